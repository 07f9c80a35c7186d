"""Sum-product networks over binary variables and MAP inference in them (Mei, Jiang, Tu, AAAI 2018).

``network`` holds the array representation, ``textformat`` reads and writes it, ``passes`` runs
the vectorised upward and derivative passes, ``reduction`` turns MAP into MAX, ``generate`` makes
random valid SPNs, ``learn`` is a small LearnSPN and ``solvers`` answers MAP queries exactly or
approximately. It imports only numpy (and no other Ring Lab package but ring_core).

Hardness (documented, not implemented): MAP in SPNs is NP-hard, and it is NP-hard even to
approximate within 2^(n^eps) for fixed 0 <= eps < 1, n the size of the input (Mei et al. 2018).
"""
