"""Statistical process control: charts for one stream or many, capability, run-to-run control.

Every chart takes Phase I readings with ``learn_one`` (unless its parameters are given),
then monitors with ``update``; ``alarm`` says whether the last reading signalled and
``rule`` which rule fired (``"ewma_upper"``, ``"cusum_lower"``, ``"nelson_2"`` …). Each
``…Bank`` twin holds the same chart for ``n_streams`` streams in NumPy arrays and raises
the same alarms. See ``docs/spc.md`` for the formulas, references and ARL tables.

>>> from gigaloop.ml.spc import CUSUM
>>> chart = CUSUM(k=0.5, h=4.0, mu=0.0, sigma=1.0)
>>> for x in (0.3, 1.8, 2.2, 1.9):
...     chart.update(x)
>>> chart.alarm, chart.rule
(True, 'cusum_upper')
"""

from gigaloop.ml.spc._base import Base, Chart, ChartBank
from gigaloop.ml.spc.arl import cusum_arl, ewma_arl, shewhart_arl
from gigaloop.ml.spc.capability import Capability, capability, cp_interval, cpk_interval
from gigaloop.ml.spc.cusum import CUSUM, CUSUMBank
from gigaloop.ml.spc.ewma import EWMA, EWMABank
from gigaloop.ml.spc.multivariate import MEWMA, HotellingT2, HotellingT2Bank, MEWMABank
from gigaloop.ml.spc.pchart import PChart
from gigaloop.ml.spc.r2r import R2RController
from gigaloop.ml.spc.rules import NelsonRules, NelsonRulesBank
from gigaloop.ml.spc.shewhart import IndividualsMR, IndividualsMRBank, XbarR, XbarRBank

__all__ = [
    "CUSUM",
    "EWMA",
    "MEWMA",
    "Base",
    "CUSUMBank",
    "Capability",
    "Chart",
    "ChartBank",
    "EWMABank",
    "HotellingT2",
    "HotellingT2Bank",
    "IndividualsMR",
    "IndividualsMRBank",
    "MEWMABank",
    "NelsonRules",
    "NelsonRulesBank",
    "PChart",
    "R2RController",
    "XbarR",
    "XbarRBank",
    "capability",
    "cp_interval",
    "cpk_interval",
    "cusum_arl",
    "ewma_arl",
    "shewhart_arl",
]
