"""Events: the contract a publisher sends (:mod:`.prepare`), the query a reader asks
(:mod:`.query`), an event as stored and read back (:mod:`.stored`) and presented in a
reader's language (:mod:`.present`)."""
