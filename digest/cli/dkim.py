"""``digest dkim``: the keys digest signs its mail with."""

from __future__ import annotations

import os
import re
from pathlib import Path

import click

from digest.deliver.dkim import check_selector, new_key, txt_record
from digest.errors import ConfigError

_DOMAIN = re.compile(r"([A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z0-9-]+")


@click.group("dkim")
def dkim_group() -> None:
    """DKIM keys: receivers check a mail's signature against the public key the From
    domain publishes in DNS.

    \b
    Example:
        digest dkim keygen --selector mail2026 --domain example.org -o dkim.pem
    """


@dkim_group.command()
@click.option("--selector", required=True, help="Name the key is published under "
              "(SELECTOR._domainkey.DOMAIN); a new one per key, say mail2026.")
@click.option("--domain", required=True, help="The domain of DIGEST_FROM's address.")
@click.option("-o", "--output", "key_file", required=True, type=click.Path(path_type=Path),
              help="File to write the private key to (PEM, mode 0600; never overwritten).")
@click.option("--type", "kind", type=click.Choice(["rsa", "ed25519"]), default="rsa",
              show_default=True, help="rsa (2048 bits, what every receiver checks) or "
              "ed25519 (a second signature beside the RSA one).")
def keygen(selector: str, domain: str, key_file: Path, kind: str) -> None:
    """Make a private key and print the DNS TXT record that publishes its public half.

    Publish the record, then set DIGEST_DKIM_KEY=FILE and DIGEST_DKIM_SELECTOR (for an
    Ed25519 key: DIGEST_DKIM_ED25519_KEY and DIGEST_DKIM_ED25519_SELECTOR).

    \b
    Examples:
        digest dkim keygen --selector mail2026 --domain example.org -o /etc/digest/dkim.pem
        digest dkim keygen --selector ed2026 --domain example.org -o ed.pem --type ed25519
    """
    check_selector("--selector", selector)
    domain = domain.strip().rstrip(".")
    if not _DOMAIN.fullmatch(domain):
        raise ConfigError(f"--domain {domain!r} is not a domain name; give the domain of "
                          "DIGEST_FROM's address, like example.org")
    pem, value = new_key(kind)
    try:
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as e:
        raise ConfigError(f"{key_file} exists; digest never overwrites a key (mail signed with "
                          "it may still be checked): choose another -o") from e
    except OSError as e:
        raise ConfigError(f"cannot write {key_file} ({e.strerror}); choose another -o") from e
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    click.echo(txt_record(selector, domain, value))
    setting = "DIGEST_DKIM_KEY" if kind == "rsa" else "DIGEST_DKIM_ED25519_KEY"
    click.echo(f"Wrote the private key to {key_file}. Publish the record above in DNS, then "
               f"set {setting}={key_file} and the selector {selector}.", err=True)
