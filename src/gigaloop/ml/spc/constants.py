"""Control chart constants for subgroups of size n = 2 … 25 (Montgomery, Appendix VI).

d2 and d3 carry two more decimals than the printed tables (computed by integration).

``d2 = E[R/σ]`` and ``d3 = sd[R/σ]`` for the range ``R`` of n standard normal readings; the
rest follow from them: ``D3 = max(0, 1 - 3 d3/d2)``, ``D4 = 1 + 3 d3/d2``,
``A2 = 3 / (d2 √n)``. The tests recompute d2 and d3 by numerical integration.

>>> round(D2[2], 3), round(D4[2], 3), round(A2[5], 3)
(1.128, 3.267, 0.577)
"""

from __future__ import annotations

import math

_TABLE = {  # n: (d2, d3), to 5 decimals so that D3, D4, A2 round to the published 3
    2: (1.12838, 0.85250), 3: (1.69257, 0.88837), 4: (2.05875, 0.87981),
    5: (2.32593, 0.86408), 6: (2.53441, 0.84804), 7: (2.70436, 0.83321),
    8: (2.84720, 0.81983), 9: (2.97003, 0.80783), 10: (3.07751, 0.79705),
    11: (3.17287, 0.78731), 12: (3.25846, 0.77848), 13: (3.33598, 0.77042),
    14: (3.40676, 0.76302), 15: (3.47183, 0.75621), 16: (3.53198, 0.74991),
    17: (3.58788, 0.74405), 18: (3.64006, 0.73859), 19: (3.68896, 0.73348),
    20: (3.73495, 0.72869), 21: (3.77834, 0.72417), 22: (3.81938, 0.71991),
    23: (3.85832, 0.71589), 24: (3.89535, 0.71207), 25: (3.93063, 0.70844),
}

D2: dict[int, float] = {n: d2 for n, (d2, _) in _TABLE.items()}
D3_SD: dict[int, float] = {n: d3 for n, (_, d3) in _TABLE.items()}
D3: dict[int, float] = {n: max(0.0, 1 - 3 * d3 / d2) for n, (d2, d3) in _TABLE.items()}
D4: dict[int, float] = {n: 1 + 3 * d3 / d2 for n, (d2, d3) in _TABLE.items()}
A2: dict[int, float] = {n: 3 / (d2 * math.sqrt(n)) for n, (d2, _) in _TABLE.items()}


def subgroup_size(n: int) -> int:
    """``n`` when the tables cover it, else ValueError."""
    if n not in _TABLE:
        raise ValueError(f"subgroup size must be between 2 and 25, got {n!r}")
    return n
