"""Every default of digest, in one commented place."""

from __future__ import annotations

from digest.vocab import Cadence

# Database used when neither --db nor DIGEST_DB is given: a SQLite file in the working
# directory, so the tool runs anywhere with no server.
DB_URL = "sqlite:///digest.db"

# Subscriptions file used when neither --config nor DIGEST_CONFIG is given.
CONFIG_PATH = "subscriptions.yaml"

# Name of the manifest that tells, for the files of a folder, their format, capture date
# and profile owner (see seeds/sources.yaml).
MANIFEST_NAME = "sources.yaml"

# Live sources. Bases are overridable so tests (and mirrors) can point elsewhere.
HF_BASE_URL = "https://huggingface.co"
ARXIV_BASE_URL = "https://rss.arxiv.org"
# Whole-archive sources: arXiv's OAI-PMH interface and the bioRxiv/medRxiv API.
ARXIV_OAI_URL = "https://oaipmh.arxiv.org/oai"
BIORXIV_URL = "https://api.biorxiv.org"
# arXiv asks harvesters to pause between requests (about 3 s); a 503's Retry-After is
# honoured up to HARVEST_RETRY_AFTER_MAX seconds (and never past the fetch's deadline).
HARVEST_PAUSE = 3.0
HARVEST_PAUSE_MAX = 60.0  # a larger DIGEST_HARVEST_PAUSE waits this long
HARVEST_RETRY_AFTER_MAX = 60.0
# Days a whole-archive source reaches back on its first harvest (later ones resume from
# the last datestamp seen), and the most a --days or days: may ask for.
HARVEST_DAYS = 1
HARVEST_MAX_DAYS = 366
# Items per page asked of the Hugging Face daily_papers API; paging stops at a short page.
HF_PAGE_LIMIT = 100

# HTTP: seconds to wait for a connection or a read, attempts per request (the first try
# included), and the first back-off delay in seconds (doubled after each failure).
HTTP_TIMEOUT = 20.0
HTTP_ATTEMPTS = 3
HTTP_BACKOFF = 1.0
# What one live fetch may cost, so that a hostile or broken server can neither flood the
# memory nor hold a run forever (env DIGEST_HTTP_MAX_BYTES, _DEADLINE, _MAX_PAGES). A
# response is cut off past HTTP_MAX_BYTES, counted as it arrives both as sent and unpacked
# (gzip): a full daily_papers page is about 0.7 MB, a busy arXiv feed under 2 MB. One URL
# gets HTTP_DEADLINE seconds in all, its retries and back-off included, however slowly
# the bytes trickle in. A day never has more pages than HTTP_MAX_PAGES; a server that
# pages on past it is an error (nothing of the day is stored).
HTTP_MAX_BYTES = 16 * 1024 * 1024
HTTP_DEADLINE = 120.0
HTTP_MAX_PAGES = 50
# Redirects followed per request; only ones to the configured scheme, host and port.
HTTP_MAX_REDIRECTS = 5

# Input files larger than this are refused rather than read into memory.
MAX_INPUT_BYTES = 64 * 1024 * 1024

# What one paper may hold, checked at ingest; each fix is a warning naming the file, and the
# paper is still stored. A count (upvotes, GitHub stars, authors) outside 0..MAX_COUNT, or a
# score outside 0..MAX_SCORE (or not a number), is stored as unknown: no real paper has
# them, and a clamped one would top every ranking. MAX_COUNT is well inside a PostgreSQL
# INTEGER (2^31 - 1).
MAX_COUNT = 1_000_000_000
MAX_SCORE = 1_000_000.0
# Text longer than its bound is cut (with "…"); lists keep their first entries (a cut
# author list counts as cut by "et al."); an identifier or URL longer than its bound is
# dropped, as a cut one would point nowhere. The longest of 3,889 real papers: title 175
# characters, abstract 1,922 (arXiv allows 1,920), AI summary 1,606, author name 55,
# organisation 76, URL 130, keyword 64, account 18; 573 authors, 44 keywords.
MAX_TITLE_CHARS = 300
MAX_ABSTRACT_CHARS = 5_000  # the abstract, the AI summary
MAX_NAME_CHARS = 100  # one author, the organisation
MAX_ACCOUNT_CHARS = 64  # an account an author claimed a paper with (a Hugging Face username)
MAX_AUTHORS = 1_000
MAX_KEYWORDS = 100
MAX_KEYWORD_CHARS = 100
MAX_LABEL_CHARS = 32  # category, announce type
MAX_ID_CHARS = 32  # the arXiv id
MAX_URL_CHARS = 300  # GitHub repository, project page

# Inputs with at least this many files get a progress bar when run on a terminal.
PROGRESS_MIN_FILES = 2

# Moments given by the user (--now, DIGEST_NOW, --after, --hf-date, --captured, a
# manifest's captured:) lie in these years: before arXiv there are no papers, and far
# later a period or window added to the moment would leave Python's calendar (year 9999).
EARLIEST_YEAR = 1970
LATEST_YEAR = 9000
# A real pass (send, run, worker) with --now/DIGEST_NOW more than this many minutes ahead
# of the system clock is refused without --force-clock: it would record periods no pass
# repeats until that moment, so nobody would get a digest till then.
CLOCK_AHEAD_MINUTES = 5

# Subscriber settings when neither the subscriber nor the file's `defaults:` give them.
CADENCE = Cadence.WEEKLY
SEND_AT = "08:00"  # local wall-clock time, HH:MM
DAY = "monday"  # weekly digests only
TIMEZONE = "UTC"  # IANA name
MAX_PAPERS = 20  # papers in one digest at most
# Of the papers that matched and did not fit in a digest, how many its outbox row keeps
# for the web copy's list (the mail says "N more papers matched").
MAX_MORE = 200
# Past digests the preferences page lists, and papers the private Atom feed holds.
PAST_DIGESTS = 20
FEED_ENTRIES = 100
TRENDING = 5  # size of the trending section; 0 = none
RISING = 3  # size of the rising section (papers gaining upvotes fastest lately); 0 = none
# Size of the "Recommended for you" section (digest.recommend: papers like those the
# subscriber liked); 0 = none. It needs RECOMMEND_MIN_LIKES liked papers that are stored.
RECOMMENDED = 3
# Size of the "Possibly by" list: papers carrying a followed name that nothing links to
# the person meant (ambiguous, unpinned or differently spelt names); 0 = none.
POSSIBLY = 5
# A scheduled digest found more than this many hours late (the machine slept or the bot was
# down) is recorded as missed instead of being sent late.
GRACE_HOURS = 24
# How old a paper may be (by the day it appeared) and still be due; None means twice the
# cadence period (2 days for daily digests and instant alerts, 14 for weekly ones).
MAX_AGE_DAYS: int | None = None
# How far back a paper may have been first seen and still be new to anyone: a pass reads
# the papers first seen since its subscribers' last digests, never further back than this
# (two weekly periods: a weekly digest missed once still covers its papers), however big
# ``max_age_days`` is; ``max_age_days`` says which of those are young enough, not what
# is read. Papers rising lately and papers owed (in digests that never went out) are read
# by id whatever their age.
REACH_DAYS = 14

# Show the sources' thumbnails in mails (env DIGEST_IMAGES=on): off, so that no mail loads
# a remote image unless the operator asks for it.
IMAGES = False
# Momentum (digest.rising): upvotes gained per hour over the last RISING_WINDOW_HOURS, the
# hours counted as at least RISING_FLOOR_HOURS (so that a paper seen an hour ago with a few
# votes does not outrun one that gained dozens in a day), and a gain of less than
# RISING_MIN_GAIN votes (a single vote is noise) is not rising at all.
RISING_WINDOW_HOURS = 48
RISING_FLOOR_HOURS = 12
RISING_MIN_GAIN = 2
# Recommendations (digest.recommend) learn from the liked papers that appeared in the
# last TASTE_DAYS (older likes are forgotten), need RECOMMEND_MIN_LIKES of them, and train
# each subscriber's model on their likes against their dislikes and TASTE_NEGATIVES other
# papers of the pass's index drawn with a fixed seed. A subscriber keeps at most
# MAX_LIKES likes and dislikes each: the oldest go first.
TASTE_DAYS = 365
RECOMMEND_MIN_LIKES = 3
TASTE_NEGATIVES = 1000
# A pass's index of recommendations is fitted on its own papers; one with fewer than
# TASTE_BACKGROUND of them (a daily pass, a small archive) adds the papers stored last
# before them, up to that many, so that its term weights and the negatives drawn are
# learnt from enough papers; those are never recommended.
TASTE_BACKGROUND = 5000
MAX_LIKES = 1000
# Who an unpinned followed name stands for is worked out from the newest RESOLVE_PAPERS
# stored papers carrying it (by the day they appeared), plus those a pass holds already:
# who the name stands for now, at a cost that does not grow with the archive.
RESOLVE_PAPERS = 20
# A card link's target (a name or phrase to follow or mute, an arXiv id, an arXiv id and a
# followed name) is at most this many characters: a link is made from what a card shows,
# never typed; a card leaves out a link whose target would be longer.
MAX_TARGET = 200

# The digest's name in the mail header and footer (env DIGEST_NAME).
DIGEST_NAME = "Paper Digest"
# Where the unsubscribe links point until signed tokens exist (env DIGEST_BASE_URL).
BASE_URL = "http://localhost:8000"

# With an SMTP server (DIGEST_SMTP_URL), send, run and worker refuse a sender address or
# links at localhost, which no receiver can answer or open (DIGEST_ALLOW_LOCALHOST=1:
# a test relay on this machine).
ALLOW_LOCALHOST = False

# Delivery. Without DIGEST_SMTP_URL, mail goes to this Maildir (env DIGEST_MAILDIR).
MAILDIR = "outbox"
# Sender of every mail (env DIGEST_FROM).
MAIL_FROM = "Paper Digest <digest@localhost>"
# SMTP: seconds per command, connections used at once (env DIGEST_SMTP_TIMEOUT, _POOL).
SMTP_TIMEOUT = 30.0
# The reply to a message's final dot is waited for this long (env DIGEST_SMTP_DATA_TIMEOUT;
# RFC 5321 4.5.3.2.6: 10 minutes): a server may scan or store it first, and a mail given
# up on that the server then accepts would be sent again. Other connections go on.
SMTP_DATA_TIMEOUT = 600.0
SMTP_POOL = 4
# A digest that failed transiently is tried again after 5, 10, 20, 40 minutes, then every
# RETRY_MAX_MINUTES, until its subscriber's grace_hours run out (then it is missed and its
# papers go into the next digest): a relay that is down for hours delays the mail, it
# does not lose it. Only a refusal for good marks a digest failed.
RETRY_FIRST_MINUTES = 5
RETRY_MAX_MINUTES = 60
# A digest left in `sending` this long (its process died) is taken over and sent again,
# with the same Message-ID.
SENDING_LEASE_MINUTES = 10

# Several bots on one database run each job one at a time: a bot holds a job's lease while
# it runs it (renewed every third of this), and a lease not renewed this long is taken over.
JOB_LEASE_SECONDS = 600

# The bot checks subscriptions.yaml for changes (and notices it slept) this often.
WATCH_SECONDS = 10
# `digest status` says no bot is running when the watcher's latest tick is older than
# this (or three ticks, if longer): a long send pass may hold a tick back a while.
BOT_SILENT_SECONDS = 300

# The subscribe pages (`digest serve`). A confirmation link is valid this long; one address
# gets at most this many mails from the subscribe form a day (confirmations, or "you are
# subscribed already"), so the form cannot be used to flood someone's inbox; one client
# address may send the form this many times in FORM_WINDOW_SECONDS (429 beyond).
CONFIRM_HOURS = 48
FORM_MAILS_PER_DAY = 3
FORM_POSTS_PER_CLIENT = 10
FORM_WINDOW_SECONDS = 600

# What one client may cost `digest serve` with no proxy in front (digest.web.limits): the
# request's headers must be in within SERVE_HEADER_SECONDS of the connection (or of the
# last response; env DIGEST_SERVE_HEADER_SECONDS) and hold at most SERVE_MAX_HEADER_BYTES;
# an idle kept-alive connection closes after SERVE_KEEP_ALIVE_SECONDS; a body may hold
# SERVE_MAX_BODY_BYTES (the preferences form of someone following 1,000 authors is about
# 40 kB), one field SERVE_MAX_FIELD_BYTES, and must be in within SERVE_BODY_SECONDS. Past
# SERVE_MAX_CONNECTIONS connections at once, new requests get 503.
SERVE_HEADER_SECONDS = 10.0
SERVE_MAX_HEADER_BYTES = 16 * 1024
SERVE_KEEP_ALIVE_SECONDS = 5
SERVE_MAX_BODY_BYTES = 256 * 1024
SERVE_MAX_FIELD_BYTES = 64 * 1024
SERVE_BODY_SECONDS = 30.0
SERVE_MAX_CONNECTIONS = 500

# The most HTML a mail may hold: Gmail clips a mail past about 102 KB. A digest whose cards
# would make more shows fewer (the last ones), and only those count as sent.
MAX_HTML_BYTES = 100_000

# A subscriber whose address the server refused for good this many times in a row is
# marked bouncing and gets nothing until `digest subscribers reset` (DIGEST_BOUNCE_LIMIT).
BOUNCE_LIMIT = 3
# Replies in a row that are not SMTP at all (another service on the port) stop a pass.
GARBLED_REPLIES = 3

# Bounces read back (`digest bounces`, DIGEST_BOUNCES_URL): temporary failures (a full
# mailbox, 4.x.x) in this many different digests suppress an address
# (DIGEST_SOFT_BOUNCE_LIMIT); one digest's retries from several relays count once.
SOFT_BOUNCE_LIMIT = 3
# The bot reads DIGEST_BOUNCES_URL this often: soon enough that a complaint stops the
# next digest, rarely enough to cost an IMAP login a few times an hour.
BOUNCES_MINUTES = 5
# Of a mail read back, this much is parsed (a real bounce is a few KB; one that quotes a
# whole digest, about 100 KB); past it, the rest is not looked at.
MAX_BOUNCE_BYTES = 1_000_000
# The same refusal of the message or its sender (at MAIL FROM, at DATA: size, content,
# policy, the relay's account) for this many digests in a row stops a pass: it is the
# set-up's problem, not the list's. Those digests wait to be sent again (no bounce is
# counted), as do the ones not tried yet. A pass that sent nothing and met only such a
# refusal, at least twice, stops the same way (a list smaller than this).
SETUP_REFUSALS = 5
# Adaptive sending. A server that turns a connection away (421 when greeting, refused or
# reset) gets one connection fewer, down to one, and the digest goes on another with no
# attempt counted; a 4xx reply to a mail spaces the pass's sends SLOW_FIRST_SECONDS apart,
# twice as far at each such reply up to SLOW_MAX_SECONDS. After RAMP_SUCCESSES mails in a
# row went through, the spacing halves (gone below SLOW_FIRST_SECONDS) and the pool takes
# one connection more, up to DIGEST_SMTP_POOL. The last connection turned away this many
# times in a row (waiting longer each time) ends the pass: that digest is retried later,
# the others wait for the next pass, and a server that is down is not asked once a digest.
BUSY_TRIES = 5
SLOW_FIRST_SECONDS = 0.1
SLOW_MAX_SECONDS = 10.0
RAMP_SUCCESSES = 20
# The Daily Papers page (digest serve): papers per page of a long week or month (and of a
# search), the most pages a view offers, and how many of the newest days with papers its
# public Atom feed holds (at most FEED_ENTRIES papers).
PAPERS_PER_PAGE = 30
MAX_PAGES = 100
FEED_DAYS = 3
FEED_ENTRIES = 100
