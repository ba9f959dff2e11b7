"""Reading bounces, complaints and unsubscribe requests from a mailbox (issue 32)."""
