"""The scoring every strategy uses, pure Python: the store-backed engine and the offline
evaluation (bench/recs_eval.py) call these same functions, so the figures in the README
are the figures of what the widget shows.

Inputs are plain counts; where they come from (SQL rows or an in-memory model) is the
caller's business.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import permutations

# Decayed weights are 2 ** (days since EPOCH / half-life): additive, never rewritten as time
# passes, and ordering by them is ordering by the weight decayed to any later moment.
EPOCH = datetime(2000, 1, 1)
MIN_HALF_LIFE_DAYS = 21.0  # keeps 2 ** exponent far below float overflow until ~2057
# A basket larger than this counts its first products only: pair updates grow with its square.
MAX_BASKET = 50


@dataclass(frozen=True)
class Tuning:
    """The knobs, chosen on The Complete Journey (README: how and why).

    Related items score ``(together - shrink * (seed - prior) * other / total) / other**d``:
    ``together`` co-occurrences, ``seed``/``other`` how often each occurred, ``total`` all
    baskets. For a frequent seed the middle term removes what independence explains (so the
    best-sellers stop drowning every list); for a rare seed (``seed < prior``) it adds
    popularity instead (a single co-purchase is weak evidence) and ``d = damp`` lifts rarer
    products into its list (``d = 0`` for a frequent seed, whose counts need no help).
    """

    shrink: float = 0.5
    prior: float = 200.0
    damp: float = 0.215
    candidates: int = 300
    popular: int = 50
    half_life_days: float = 30.0
    for_you_half_life_days: float = 365.0
    for_you_views: float = 0.1
    for_you_popularity: float = 20.0


DEFAULT = Tuning()


def decay_weight(at: datetime, half_life_days: float) -> float:
    """The weight of one fact at ``at`` (naive UTC) in epoch units."""
    if half_life_days < MIN_HALF_LIFE_DAYS:
        raise ValueError(f"half-life must be at least {MIN_HALF_LIFE_DAYS} days")
    days = (at - EPOCH).total_seconds() / 86400.0
    return float(2.0 ** (days / half_life_days))


def basket_pairs(products: Iterable[str]) -> list[tuple[str, str]]:
    """Ordered pairs of distinct products in one basket (both directions)."""
    distinct = list(dict.fromkeys(products))[:MAX_BASKET]
    return list(permutations(distinct, 2))


def related(
    seed: float,
    total: float,
    neighbours: Iterable[tuple[str, float, float]],
    popular: Iterable[tuple[str, float]],
    limit: int,
    exclude: Collection[str] = (),
    tuning: Tuning = DEFAULT,
) -> list[str]:
    """Also bought / also viewed: ``neighbours`` are ``(product, together, other)``, the
    seed's strongest co-occurrences; ``popular`` are ``(product, count)`` of the most
    frequent products, candidates too (they fill lists of rare seeds)."""
    if total <= 0 or limit <= 0:
        return []
    pull = tuning.shrink * (seed - tuning.prior) / total
    damp = tuning.damp if seed < tuning.prior else 0.0
    scores: dict[str, float] = {}
    for product, together, other in neighbours:
        if product not in exclude and other > 0:
            scores[product] = (together - pull * other) / other**damp
    for product, count in popular:
        if product not in scores and product not in exclude and count > 0:
            scores[product] = -pull * count / count**damp
    return _top(scores, limit)


def bestsellers(
    trending: Iterable[tuple[str, float]], limit: int, exclude: Collection[str] = ()
) -> list[str]:
    """``trending`` is ``(product, decayed sales)``, best first or not."""
    scores = {product: weight for product, weight in trending if product not in exclude}
    return _top(scores, limit)


def for_you(
    history: Iterable[tuple[str, float, float]],
    popular: Iterable[tuple[str, float]],
    total: float,
    unit: float,
    neighbours_of: Callable[[Sequence[str]], list[str]],
    fallback: Callable[[], list[str]],
    limit: int,
    exclude: Collection[str] = (),
    tuning: Tuning = DEFAULT,
) -> list[str]:
    """What the customer is likely to buy next: their own purchases (decayed; ``unit`` is
    the weight of one purchase now), views (weighing less), plus a popularity prior (a
    product in 30 % of all orders counts like ``0.3 * for_you_popularity`` recent
    purchases); then what goes with their strongest products, then ``fallback``.
    ``history`` is ``(product, bought in epoch units, views)``, ``popular`` ``(product,
    orders)`` of the most frequent products, ``total`` all orders."""
    scores: dict[str, float] = {}
    for product, bought, viewed in history:
        if product not in exclude and bought + viewed > 0:
            scores[product] = bought / unit + tuning.for_you_views * viewed
    if total > 0:
        for product, count in popular:
            if product not in exclude:
                prior = tuning.for_you_popularity * count / total
                scores[product] = scores.get(product, 0.0) + prior
    chosen = _top(scores, limit)
    if len(chosen) < limit:
        seen = set(chosen) | set(exclude)
        for product in [*neighbours_of(chosen[:3]), *fallback()]:
            if product not in seen:
                chosen.append(product)
                seen.add(product)
            if len(chosen) == limit:
                break
    return chosen


def recently_viewed(
    views: Iterable[tuple[str, datetime]], limit: int, exclude: Collection[str] = ()
) -> list[str]:
    """Newest first; a product viewed under several ids of one visitor counts once."""
    newest: dict[str, datetime] = {}
    for product, at in views:
        if product not in exclude and (product not in newest or at > newest[product]):
            newest[product] = at
    return [p for p, _ in sorted(newest.items(), key=lambda kv: (kv[1], kv[0]), reverse=True)][
        :limit
    ]


def _top(scores: dict[str, float], limit: int) -> list[str]:
    """Best ``limit`` by score; ties by product id so every engine agrees."""
    ranked = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
    return [product for product, _ in ranked[:limit]]
