"""The HTTP edge shared by the API and the console: who the client is and from where,
limits, problem replies, streamed downloads and their file names."""
