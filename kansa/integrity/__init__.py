"""Proving the log intact: signing keys and checkpoints (:mod:`.signing`), the key file
(:mod:`.keyfile`), signing a chain's head and an export's manifest (:mod:`.checkpoints`),
and checking an exported file offline (:mod:`.files`)."""
