"""A deterministic simulation of the processing protocol (FoundationDB's simulator, TigerBeetle's VOPR).

The real `BatchProtocol`, `processing`, `aggregates` and service handlers run over an in-memory Kafka log
and in-memory stores whose every operation is an await point; a seeded scheduler decides at each point
which task runs next and whether a fault strikes (a crash, a zombie replica, a rebalance, a transient
error). After each schedule the audit's invariants are checked, on its history folded in time order, one
whole partition after another (forwards and backwards) and in three random interleavings of the
partitions, which must all count the same (the console reads the topics side by side); a seed replays its
schedule exactly:
`python -m tests.simulation --seed S`.
"""
