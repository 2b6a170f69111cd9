"""REST integrators: approved answers POSTed, signed, to their callback URL."""
