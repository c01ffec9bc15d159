"""One running kansa: the runtime its parts share, the writer that commits events, the
background jobs, the access log and the application that puts the API and console together."""
