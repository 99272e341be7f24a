"""The scoring every strategy uses, pure Python: the store-backed engine and the offline
evaluation (bench/recs_eval.py) call these same functions, so the figures in the README
are the figures of what the widget shows.

Inputs are plain counts; where they come from (SQL rows or an in-memory model) is the
caller's business.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import permutations

# Decayed weights are 2 ** (days since EPOCH / half-life): additive, never rewritten as time
# passes, and ordering by them is ordering by the weight decayed to any later moment.
EPOCH = datetime(2000, 1, 1)
MIN_HALF_LIFE_DAYS = 21.0  # keeps 2 ** exponent far below float overflow until ~2057
# A basket larger than this counts its first products only: pair updates grow with its square.
MAX_BASKET = 50
# Pair weights are multiples of this (``pair_weight``): exact sums up to 2 ** 37.
WEIGHT_STEP = 2.0**-16


@dataclass(frozen=True)
class Tuning:
    """The knobs, chosen on a validation period of The Complete Journey (README: how and
    why; ``bench/recs_eval.py --tune`` repeats the choice).

    Related items score ``(together - shrink * (seed - prior) * other / total) / other**d``:
    ``together`` co-occurrences (each pair of an order weighing ``pair_weight`` of its size:
    ``basket_power`` is a stored-count knob, a change needs ``cx recs rebuild``),
    ``seed``/``other`` how often each occurred, ``total`` all baskets. For a frequent seed
    the middle term removes what independence explains (so the best-sellers stop drowning
    every list); for a rare seed (``seed < prior``) it adds
    popularity instead (a single co-purchase is weak evidence) and ``d = damp`` lifts rarer
    products into its list (``d = 0`` for a frequent seed, whose counts need no help).
    A product of the seed's own category scores ``1 + same_category`` times as high (people
    buy several of a kind: flavours, sizes). The list is then picked greedily from the best
    ``pool``: a product mostly bought together with one already picked adds little chance of
    a useful card, so its score shrinks by ``redundancy`` times that share.
    """

    basket_power: float = 0.375
    shrink: float = 0.3
    prior: float = 200.0
    damp: float = 0.26
    same_category: float = 0.5
    redundancy: float = 1.0
    pool: int = 30
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


def pair_weight(size: int, tuning: Tuning = DEFAULT) -> float:
    """What each pair of a basket of ``size`` distinct products adds to their count:
    ``(size - 1) ** -basket_power``. A large basket pairs every product with many unrelated
    ones, so its pairs are weaker evidence. Rounded to a multiple of ``WEIGHT_STEP``: sums of
    such numbers are exact in a double, so a refund subtracts exactly what its order added
    and a rebuild gives the same counts in any order."""
    if size < 2:
        return 0.0
    weight: float = float(size - 1) ** -tuning.basket_power
    return max(round(weight / WEIGHT_STEP), 1) * WEIGHT_STEP


def related(
    seed: float,
    total: float,
    neighbours: Iterable[tuple[str, float, float]],
    popular: Iterable[tuple[str, float]],
    limit: int,
    exclude: Collection[str] = (),
    tuning: Tuning = DEFAULT,
    category: str | None = None,
    categories: Mapping[str, str | None] | None = None,
    pairs_among: Callable[[Sequence[str]], Mapping[tuple[str, str], float]] | None = None,
) -> list[str]:
    """Also bought / also viewed: ``neighbours`` are ``(product, together, other)``, the
    seed's strongest co-occurrences; ``popular`` are ``(product, count)`` of the most
    frequent products, candidates too (they fill lists of rare seeds). ``category`` is the
    seed's, ``categories`` the candidates' (where known); ``pairs_among(products)`` returns
    the co-occurrence counts ``{(a, b): together}`` among the given products (None: no
    spreading, the plain ranking)."""
    if total <= 0 or limit <= 0:
        return []
    pull = tuning.shrink * (seed - tuning.prior) / total
    damp = tuning.damp if seed < tuning.prior else 0.0
    scores: dict[str, float] = {}
    counts: dict[str, float] = {}
    for product, together, other in neighbours:
        if product not in exclude and other > 0:
            scores[product] = (together - pull * other) / other**damp
            counts[product] = other
    for product, count in popular:
        if product not in scores and product not in exclude and count > 0:
            scores[product] = -pull * count / count**damp
            counts[product] = count
    if category and categories and tuning.same_category:
        boost = 1.0 + tuning.same_category
        for product, value in scores.items():
            if categories.get(product) == category:
                scores[product] = value * boost if value > 0 else value / boost
    if pairs_among is None or not tuning.redundancy:
        return _top(scores, limit)
    return _spread(scores, counts, pairs_among, limit, tuning)


def _spread(
    scores: dict[str, float],
    counts: Mapping[str, float],
    pairs_among: Callable[[Sequence[str]], Mapping[tuple[str, str], float]],
    limit: int,
    tuning: Tuning,
) -> list[str]:
    """Greedy pick from the best ``pool``: each pick lowers the others' value by
    ``redundancy`` × the share of their baskets it was in, so ten cards are not ten ways to
    the same basket. Scores below zero (a frequent seed's products that co-occur less than
    independence predicts) are shifted so the lowest is zero; ties keep the ranking's order."""
    pool = _top(scores, max(tuning.pool, 3 * limit))
    if len(pool) < 2:
        return pool[:limit]
    together = pairs_among(pool)
    floor = min(0.0, scores[pool[-1]])
    value = {product: scores[product] - floor for product in pool}
    chosen: list[str] = []
    left = list(pool)
    redundancy = tuning.redundancy
    while left and len(chosen) < limit:
        best = max(left, key=value.__getitem__)  # first of equals: rank order
        chosen.append(best)
        left.remove(best)
        for product in left:
            # A product never bought with ``best`` keeps its value (it would be × 1.0).
            pair = together.get((product, best))
            if pair:
                value[product] *= max(0.0, 1.0 - redundancy * (pair / counts[product]))
    return chosen


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
