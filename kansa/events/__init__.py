"""Events: the contract a publisher sends (:mod:`.prepare`), the query a reader asks
(:mod:`.query`) and an event presented in a reader's language (:mod:`.present`)."""
