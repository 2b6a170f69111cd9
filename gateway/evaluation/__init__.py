"""Measuring routing and suggestions on labelled data (`atende eval`): reading and
splitting the data (`data`), and running and summarising it (`report`)."""
