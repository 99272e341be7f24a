"""NPS, CSAT and CES surveys: shown when the merchant's trigger fires, never to the same
customer twice within the cap, answered by click or by a plain form post."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from ...events import SCALES, Context, SurveyAnswered, SurveyShown, SurveyType
from ...privacy import hash_email
from ...server.clock import naive_utc
from ...server.store import OrderView, Store
from ..config import SurveyConfig
from ..framework import RenderContext
from ..tables import survey_contacts
from ..tokens import TokenError, TokenExpired, sign, verify
from ..tracking import verified_order

SURVEY_TTL = 60 * 86400
SUBJECT_PURPOSE = "survey-subject"
# A chat survey link stays usable for a week after the chat.
SUBJECT_TTL = 7 * 86400
COMMENT_MAX = 2000


@dataclass(frozen=True)
class Subject:
    """Who is asked, about what. ``key`` is what the frequency cap counts."""

    key: str
    reference: str
    user_id: str | None
    anonymous_id: str | None
    order: OrderView | None = None
    conversation_id: str | None = None
    chat_ended_at: datetime | None = None


def subject_token(
    key: bytes,
    shop_id: str,
    *,
    user_id: str | None = None,
    anonymous_id: str | None = None,
    conversation_id: str,
    ended_at: datetime | None = None,
) -> str:
    """What the chat widget hands the survey widget when a chat ends (trigger ``chat``)."""
    if not user_id and not anonymous_id:
        raise ValueError("user_id or anonymous_id is required")
    ended = (ended_at or datetime.now(UTC)).timestamp()
    return sign(
        key,
        SUBJECT_PURPOSE,
        {"s": shop_id, "u": user_id, "a": anonymous_id, "c": conversation_id, "t": int(ended)},
        ttl_seconds=SUBJECT_TTL,
    )


def subject_from(ctx: RenderContext) -> Subject | None:
    params = ctx.params
    if params.get("subject"):
        try:
            data = verify(ctx.key, SUBJECT_PURPOSE, params["subject"])
        except TokenError:
            return None
        if data.get("s") != ctx.shop.id or not data.get("c"):
            return None
        user_id, anonymous_id = data.get("u"), data.get("a")
        return Subject(
            key=f"u:{user_id}" if user_id else f"a:{anonymous_id}",
            reference=f"chat:{data['c']}",
            user_id=user_id,
            anonymous_id=anonymous_id,
            conversation_id=str(data["c"]),
            chat_ended_at=datetime.fromtimestamp(int(data.get("t", 0)), tz=UTC),
        )
    order = verified_order(ctx)
    if order is None:
        return None
    email_hash = order.email_hash or hash_email(params.get("email", ""))
    return Subject(
        key=f"u:{order.user_id}" if order.user_id else f"e:{email_hash}",
        reference=f"order:{order.order_id}",
        user_id=order.user_id,
        anonymous_id=None if order.user_id else f"email-{email_hash[:32]}",
        order=order,
    )


def trigger_fired(survey: SurveyConfig, subject: Subject, now: datetime) -> bool:
    delay = timedelta(days=survey.delay_days)
    if survey.trigger == "chat":
        return subject.chat_ended_at is not None and subject.chat_ended_at + delay <= now
    if subject.order is None:
        return False
    if survey.trigger == "order":
        return subject.order.placed_at is not None and subject.order.placed_at + delay <= now
    delivered = [s.delivered_at for s in subject.order.shipments if s.delivered_at is not None]
    return bool(delivered) and min(delivered) + delay <= now


def _contacts(store: Store, shop_id: str, subject_key: str) -> list[Any]:
    with store.engine.connect() as conn:
        return list(
            conn.execute(
                select(survey_contacts).where(
                    survey_contacts.c.shop_id == shop_id, survey_contacts.c.subject == subject_key
                )
            ).all()
        )


def segment_of(store: Store, shop_id: str, subject: Subject) -> str | None:
    """The subject's RFM persona (customers known by user id only; guests have none)."""
    if not subject.user_id:
        return None
    try:
        from ...analytics import segment_of as stored_segment
    except ImportError:
        return None
    return stored_segment(store, shop_id, subject.user_id)


def choose(
    surveys: list[SurveyConfig],
    subject: Subject,
    contacts: list[Any],
    now: datetime,
    segment: str | None = None,
) -> tuple[SurveyConfig, bool] | None:
    """The survey to show and whether it is new (a Shown event is due); None when none may be
    shown. The same survey about the same order stays visible until answered; any other is
    held back while the customer saw a survey within its cap. A survey limited to personas
    is shown only to customers in one of them."""
    naive_now = naive_utc(now)
    for survey in surveys:
        if not survey.enabled or not trigger_fired(survey, subject, now):
            continue
        if survey.segments and segment not in survey.segments:
            continue
        same = [
            c
            for c in contacts
            if c.survey_id == survey.survey_id and c.reference == subject.reference
        ]
        if same:
            if same[0].answered_at is None:
                return survey, False
            continue
        window = naive_now - timedelta(days=survey.cap_days)
        if any(c.shown_at >= window for c in contacts):
            continue
        return survey, True
    return None


def _context(locale: str) -> Context:
    return Context.model_validate({"channel": "web", "locale": locale})


class SurveyWidget:
    name = "survey"
    read_only = False  # records who was shown which survey

    def render(self, ctx: RenderContext) -> str | None:
        subject = subject_from(ctx)
        if subject is None:
            return None
        surveys = ctx.widgets.surveys(ctx.shop.id)
        segment = (
            segment_of(ctx.store, ctx.shop.id, subject)
            if any(survey.segments for survey in surveys)
            else None
        )
        contacts = _contacts(ctx.store, ctx.shop.id, subject.key)
        picked = choose(surveys, subject, contacts, ctx.now, segment)
        if picked is None:
            return None
        survey, new = picked
        order_id = subject.order.order_id if subject.order else None
        if new and not self._record_shown(ctx, survey, subject, order_id):
            return None
        token = sign(
            ctx.key,
            "survey",
            {
                "s": ctx.shop.id,
                "sv": survey.survey_id,
                "ty": survey.survey_type,
                "k": subject.key,
                "r": subject.reference,
                "u": subject.user_id,
                "a": subject.anonymous_id,
                "o": order_id,
                "c": subject.conversation_id,
            },
            ttl_seconds=SURVEY_TTL,
        )
        return render_form(ctx, survey, token)

    def _record_shown(
        self, ctx: RenderContext, survey: SurveyConfig, subject: Subject, order_id: str | None
    ) -> bool:
        try:
            with ctx.store.engine.begin() as conn:
                conn.execute(
                    survey_contacts.insert().values(
                        shop_id=ctx.shop.id,
                        survey_id=survey.survey_id,
                        subject=subject.key,
                        reference=subject.reference,
                        user_id=subject.user_id,
                        order_id=order_id,
                        shown_at=naive_utc(ctx.now),
                    )
                )
        except IntegrityError:
            pass  # a concurrent render recorded it; the Shown event is keyed and dedupes
        event = SurveyShown(
            user_id=subject.user_id,
            anonymous_id=subject.anonymous_id,
            properties={
                "survey_id": survey.survey_id,
                "survey_type": survey.survey_type,
                "order_id": order_id,
                "conversation_id": subject.conversation_id,
            },
            context=_context(ctx.locale),
        ).keyed(ctx.shop.id, survey.survey_id, subject.reference)
        result = ctx.store.ingest(ctx.shop.id, [event.to_wire()])
        return not result.rejected


def render_form(
    ctx: RenderContext,
    survey: SurveyConfig,
    token: str,
    error: str | None = None,
    score: str = "",
    comment: str = "",
) -> str:
    low, high = SCALES[SurveyType(survey.survey_type)]
    return ctx.render(
        "survey.html",
        state="ask",
        survey=survey,
        question=survey.question.get(ctx.locale),
        scale=list(range(low, high + 1)),
        token=token,
        error=error,
        score=score,
        comment=comment,
    )


class AnswerError(ValueError):
    """The answer cannot be stored; the message is shown to the shopper."""


def answer(ctx: RenderContext, form: dict[str, str]) -> str:
    """Store one answer (once per survey and order/conversation) and render the thanks."""
    try:
        data = verify(ctx.key, "survey", form.get("t", ""))
    except TokenExpired:
        return ctx.render("survey.html", state="expired", survey=None)
    except TokenError as error:
        raise AnswerError(f"survey token: {error}") from None
    if data.get("s") != ctx.shop.id:
        raise AnswerError("survey token: issued for another shop")
    # The type the shopper was shown wins over a later edit of the survey in the console.
    configured = ctx.widgets.survey(ctx.shop.id, str(data["sv"]))
    survey = SurveyConfig(
        str(data["sv"]),
        survey_type=str(data["ty"]),
        question=configured.question if configured else {},
    )
    raw_score = form.get("score", "").strip()
    comment = form.get("comment", "").strip()[:COMMENT_MAX]
    low, high = SCALES[SurveyType(survey.survey_type)]
    if not (raw_score.isascii() and raw_score.isdigit()) or not low <= int(raw_score) <= high:
        return render_form(ctx, survey, form["t"], error="score", score=raw_score, comment=comment)
    score = int(raw_score)
    reference = str(data["r"])
    where = (
        survey_contacts.c.shop_id == ctx.shop.id,
        survey_contacts.c.survey_id == survey.survey_id,
        survey_contacts.c.reference == reference,
    )
    with ctx.store.engine.begin() as conn:
        claimed = conn.execute(
            update(survey_contacts)
            .where(*where, survey_contacts.c.answered_at.is_(None))
            .values(answered_at=naive_utc(ctx.now), score=score)
        ).rowcount
    if claimed:
        event = SurveyAnswered(
            user_id=data.get("u"),
            anonymous_id=data.get("a"),
            properties={
                "survey_id": survey.survey_id,
                "survey_type": survey.survey_type,
                "order_id": data.get("o"),
                "conversation_id": data.get("c"),
                "score": score,
                "comment": comment or None,
            },
            context=_context(ctx.locale),
        ).keyed(ctx.shop.id, survey.survey_id, reference)
        result = ctx.store.ingest(ctx.shop.id, [event.to_wire()])
        if result.rejected:
            raise AnswerError(str(result.rejected[0].get("error", "answer refused")))
    return ctx.render("survey.html", state="thanks" if claimed else "already", survey=survey)
