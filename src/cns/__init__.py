"""CNS: supervised actors with Erlang/OTP semantics hosting compiled signal kernels.

The data path, one subpackage per stage::

    news (feeds, parse) -> engine (zero-tick ingress) -> rules (SHACL kernels) -> trading (corroborate,
    signal, risk, OMS) -> venue (exchange simulator) -> trading (fills, portfolio) ; replay drives it all.
"""

__version__ = "0.1.0"
