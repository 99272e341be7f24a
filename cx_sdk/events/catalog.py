"""The journey event catalog.

Segment's e-commerce spec v2 (all 28 events, the spec's property names) plus the
post-purchase, service and feedback events a customer-experience journey needs.
Each event is a ``Track`` subclass with typed properties, a journey stage and a version.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from .envelope import Stage, Track, WireModel
from .fields import Currency, Money, Timestamp

__all__ = [
    "CartProductProperties",
    "CartProperties",
    "CartShared",
    "CartSharedProperties",
    "CartViewed",
    "ChatProperties",
    "CheckoutAbandoned",
    "CheckoutAbandonedProperties",
    "CheckoutStarted",
    "CheckoutStepCompleted",
    "CheckoutStepProperties",
    "CheckoutStepViewed",
    "ConsentProperties",
    "ConsentUpdated",
    "CouponApplied",
    "CouponDenied",
    "CouponDeniedProperties",
    "CouponEntered",
    "CouponProperties",
    "CouponRemoved",
    "Filter",
    "LiveChatConversationEnded",
    "LiveChatConversationStarted",
    "LiveChatMessageReceived",
    "LiveChatMessageSent",
    "Location",
    "OrderCancelled",
    "OrderCompleted",
    "OrderPaid",
    "OrderPaidProperties",
    "OrderProperties",
    "OrderRefunded",
    "OrderUpdated",
    "PaymentFailed",
    "PaymentInfoEntered",
    "PaymentInfoProperties",
    "PaymentProperties",
    "PlacedOrderProperties",
    "Product",
    "ProductAdded",
    "ProductAddedToWishlist",
    "ProductClicked",
    "ProductListFiltered",
    "ProductListFilteredProperties",
    "ProductListProperties",
    "ProductListViewed",
    "ProductProperties",
    "ProductRemoved",
    "ProductRemovedFromWishlist",
    "ProductReviewed",
    "ProductShared",
    "ProductSharedProperties",
    "ProductViewed",
    "ProductsSearched",
    "PromotionClicked",
    "PromotionProperties",
    "PromotionViewed",
    "Properties",
    "RecommendationClicked",
    "RecommendationClickedProperties",
    "RecommendationProperties",
    "RecommendationShown",
    "RefundProperties",
    "ReturnApproved",
    "ReturnClosed",
    "ReturnDeclined",
    "ReturnProperties",
    "ReturnReceived",
    "ReturnRequested",
    "ReturnShipmentCreated",
    "ReviewProperties",
    "SearchProperties",
    "ShipmentCreated",
    "ShipmentDelivered",
    "ShipmentProperties",
    "ShipmentStatus",
    "ShipmentStatusUpdated",
    "ShipmentUpdateProperties",
    "SurveyAnswered",
    "SurveyAnsweredProperties",
    "SurveyShown",
    "SurveyShownProperties",
    "SurveyType",
    "WishlistProductAddedToCart",
    "WishlistProperties",
    "WishlistToCartProperties",
]


def field_error(field: str, rule: str) -> PydanticCustomError:
    """A validation error pinned to a field of the model that raises it."""
    return PydanticCustomError("cx_field", "{rule}", {"field": field, "rule": rule})


class Properties(WireModel):
    """Base of all event properties; unknown properties are kept."""

    _money_fields: ClassVar[tuple[str, ...]] = ()

    @model_validator(mode="after")
    def _currency_with_money(self) -> Properties:
        if getattr(self, "currency", None) is None:
            for name in self._money_fields:
                if getattr(self, name, None) is not None:
                    raise field_error("currency", f"required when {name} is given")
        return self


class Product(WireModel):
    """A line of Segment's ``products`` array."""

    product_id: str | None = None
    sku: str | None = None
    category: str | None = None
    name: str | None = None
    brand: str | None = None
    variant: str | None = None
    price: Money | None = None
    quantity: int | None = Field(None, ge=0)
    coupon: str | None = None
    position: int | None = Field(None, ge=0)
    url: str | None = None
    image_url: str | None = None


class ProductProperties(Properties, Product):
    product_id: str = Field(min_length=1)
    currency: Currency | None = None
    value: Money | None = None
    _money_fields = ("price", "value")


class CartProductProperties(ProductProperties):
    cart_id: str | None = None


class ProductListProperties(Properties):
    list_id: str | None = None
    category: str | None = None
    products: list[Product] | None = None


class Filter(WireModel):
    type: str
    value: str


class ProductListFilteredProperties(ProductListProperties):
    filters: list[Filter] | None = None
    sorts: list[Filter] | None = None


class SearchProperties(Properties):
    query: str


class PromotionProperties(Properties):
    promotion_id: str = Field(min_length=1)
    creative: str | None = None
    name: str | None = None
    position: str | None = None


class CartProperties(Properties):
    cart_id: str | None = None
    products: list[Product] | None = None


class OrderProperties(Properties):
    """Totals of a checkout or order; every amount is exact and in ``currency``."""

    order_id: str | None = None
    checkout_id: str | None = None
    affiliation: str | None = None
    subtotal: Money | None = None
    total: Money | None = None
    revenue: Money | None = None
    value: Money | None = None
    shipping: Money | None = None
    tax: Money | None = None
    discount: Money | None = None
    coupon: str | None = None
    currency: Currency | None = None
    products: list[Product] | None = None
    _money_fields = ("subtotal", "total", "revenue", "value", "shipping", "tax", "discount")


class PlacedOrderProperties(OrderProperties):
    order_id: str = Field(min_length=1)
    currency: Currency


class CheckoutStepProperties(Properties):
    checkout_id: str | None = None
    step: int = Field(ge=1)
    shipping_method: str | None = None
    payment_method: str | None = None


class PaymentInfoProperties(Properties):
    checkout_id: str | None = None
    order_id: str | None = None
    step: int | None = Field(None, ge=1)
    shipping_method: str | None = None
    payment_method: str | None = None


class RefundProperties(Properties):
    """A refund, partial or full; ``products`` are the refunded lines."""

    order_id: str = Field(min_length=1)
    refund_id: str | None = None
    amount: Money
    currency: Currency
    total: Money | None = None
    reason: str | None = None
    refund_type: Literal["full", "partial"] | None = None
    products: list[Product] | None = None


class CouponProperties(Properties):
    order_id: str | None = None
    cart_id: str | None = None
    coupon_id: str = Field(min_length=1)
    coupon_name: str | None = None
    discount: Money | None = None
    currency: Currency | None = None
    _money_fields = ("discount",)


class CouponDeniedProperties(Properties):
    order_id: str | None = None
    cart_id: str | None = None
    coupon_id: str | None = None
    coupon: str | None = None
    reason: str | None = None


class WishlistProperties(ProductProperties):
    wishlist_id: str | None = None
    wishlist_name: str | None = None


class WishlistToCartProperties(WishlistProperties):
    cart_id: str | None = None


class ProductSharedProperties(ProductProperties):
    share_via: str | None = None
    share_message: str | None = None
    recipient: str | None = None


class CartSharedProperties(CartProperties):
    share_via: str | None = None
    share_message: str | None = None
    recipient: str | None = None


class ReviewProperties(Properties):
    product_id: str = Field(min_length=1)
    review_id: str | None = None
    review_body: str | None = None
    rating: float | None = Field(None, ge=0)


class PaymentProperties(Properties):
    order_id: str | None = None
    checkout_id: str | None = None
    total: Money | None = None
    currency: Currency | None = None
    payment_method: str | None = None
    reason: str | None = None
    _money_fields = ("total",)


class OrderPaidProperties(PaymentProperties):
    order_id: str = Field(min_length=1)
    currency: Currency


class CheckoutAbandonedProperties(OrderProperties):
    checkout_id: str = Field(min_length=1)
    cart_id: str | None = None
    recovery_url: str | None = None


class ShipmentStatus(StrEnum):
    """Closed delivery taxonomy; platform values outside it become ``exception``."""

    PENDING = "pending"
    INFO_RECEIVED = "info_received"
    IN_TRANSIT = "in_transit"
    OUT_FOR_DELIVERY = "out_for_delivery"
    ATTEMPT_FAIL = "attempt_fail"
    AVAILABLE_FOR_PICKUP = "available_for_pickup"
    DELIVERED = "delivered"
    EXCEPTION = "exception"
    EXPIRED = "expired"


class Location(WireModel):
    city: str | None = None
    region: str | None = None
    country: str | None = None


class ShipmentProperties(Properties):
    order_id: str = Field(min_length=1)
    shipment_id: str = Field(min_length=1)
    status: ShipmentStatus | None = None
    raw_status: str | None = None
    carrier: str | None = None
    tracking_number: str | None = None
    tracking_url: str | None = None
    promised_delivery_date: date | None = None
    estimated_delivery_date: date | None = None
    status_at: Timestamp | None = None
    location: Location | None = None
    message: str | None = None
    products: list[Product] | None = None

    @model_validator(mode="before")
    @classmethod
    def _unknown_status(cls, data: Any) -> Any:
        if isinstance(data, dict):
            status = data.get("status")
            if isinstance(status, str) and status not in ShipmentStatus.__members__.values():
                data = {**data, "status": ShipmentStatus.EXCEPTION.value}
                data.setdefault("raw_status", status)
        return data


class ShipmentUpdateProperties(ShipmentProperties):
    status: ShipmentStatus


class ReturnProperties(Properties):
    order_id: str = Field(min_length=1)
    return_id: str = Field(min_length=1)
    reason: str | None = None
    note: str | None = None
    products: list[Product] | None = None
    carrier: str | None = None
    tracking_number: str | None = None
    tracking_url: str | None = None


class ChatProperties(Properties):
    """Segment's Live Chat spec properties."""

    conversation_id: str = Field(min_length=1)
    agent_id: str | None = None
    agent_name: str | None = None
    agent_username: str | None = None
    conversation_duration: float | None = Field(None, ge=0)
    message_id: str | None = None
    message_body: str | None = None


class SurveyType(StrEnum):
    NPS = "nps"
    CSAT = "csat"
    CES = "ces"


SCALES: dict[SurveyType, tuple[int, int]] = {
    SurveyType.NPS: (0, 10),
    SurveyType.CSAT: (1, 5),
    SurveyType.CES: (1, 7),
}


class SurveyShownProperties(Properties):
    survey_id: str | None = None
    survey_type: SurveyType
    order_id: str | None = None
    conversation_id: str | None = None


class SurveyAnsweredProperties(SurveyShownProperties):
    score: int
    comment: str | None = Field(None, max_length=5000)

    @model_validator(mode="after")
    def _score_on_scale(self) -> SurveyAnsweredProperties:
        low, high = SCALES[self.survey_type]
        if not low <= self.score <= high:
            raise field_error(
                "score", f"must be {low}–{high} for {self.survey_type.value}, got {self.score}"
            )
        return self


class RecommendationProperties(Properties):
    strategy: str = Field(min_length=1)
    recommendation_id: str | None = None
    placement: str | None = None
    products: list[Product] | None = None


class RecommendationClickedProperties(RecommendationProperties):
    product_id: str = Field(min_length=1)
    position: int | None = Field(None, ge=0)


class ConsentProperties(Properties):
    categories: dict[str, bool]
    source: str | None = None


# --- Segment e-commerce spec v2: browsing and promotions -----------------------------


class ProductsSearched(Track):
    event: Literal["Products Searched"] = "Products Searched"
    properties: SearchProperties  # type: ignore[assignment]
    stage = Stage.AWARENESS


class ProductListViewed(Track):
    event: Literal["Product List Viewed"] = "Product List Viewed"
    properties: ProductListProperties = Field(default_factory=ProductListProperties)  # type: ignore[assignment]
    stage = Stage.AWARENESS


class ProductListFiltered(Track):
    event: Literal["Product List Filtered"] = "Product List Filtered"
    properties: ProductListFilteredProperties = Field(  # type: ignore[assignment]
        default_factory=ProductListFilteredProperties
    )
    stage = Stage.AWARENESS


class PromotionViewed(Track):
    event: Literal["Promotion Viewed"] = "Promotion Viewed"
    properties: PromotionProperties  # type: ignore[assignment]
    stage = Stage.AWARENESS


class PromotionClicked(Track):
    event: Literal["Promotion Clicked"] = "Promotion Clicked"
    properties: PromotionProperties  # type: ignore[assignment]
    stage = Stage.AWARENESS


# --- ordering ---------------------------------------------------------------------------


class ProductClicked(Track):
    event: Literal["Product Clicked"] = "Product Clicked"
    properties: ProductProperties  # type: ignore[assignment]
    stage = Stage.CONSIDERATION


class ProductViewed(Track):
    event: Literal["Product Viewed"] = "Product Viewed"
    properties: ProductProperties  # type: ignore[assignment]
    stage = Stage.CONSIDERATION


class ProductAdded(Track):
    event: Literal["Product Added"] = "Product Added"
    properties: CartProductProperties  # type: ignore[assignment]
    stage = Stage.CONSIDERATION


class ProductRemoved(Track):
    event: Literal["Product Removed"] = "Product Removed"
    properties: CartProductProperties  # type: ignore[assignment]
    stage = Stage.CONSIDERATION


class CartViewed(Track):
    event: Literal["Cart Viewed"] = "Cart Viewed"
    properties: CartProperties = Field(default_factory=CartProperties)  # type: ignore[assignment]
    stage = Stage.CONSIDERATION


class CheckoutStarted(Track):
    event: Literal["Checkout Started"] = "Checkout Started"
    properties: OrderProperties = Field(default_factory=OrderProperties)  # type: ignore[assignment]
    stage = Stage.PURCHASE


class CheckoutStepViewed(Track):
    event: Literal["Checkout Step Viewed"] = "Checkout Step Viewed"
    properties: CheckoutStepProperties  # type: ignore[assignment]
    stage = Stage.PURCHASE


class CheckoutStepCompleted(Track):
    event: Literal["Checkout Step Completed"] = "Checkout Step Completed"
    properties: CheckoutStepProperties  # type: ignore[assignment]
    stage = Stage.PURCHASE


class PaymentInfoEntered(Track):
    event: Literal["Payment Info Entered"] = "Payment Info Entered"
    properties: PaymentInfoProperties = Field(default_factory=PaymentInfoProperties)  # type: ignore[assignment]
    stage = Stage.PURCHASE


class OrderUpdated(Track):
    event: Literal["Order Updated"] = "Order Updated"
    properties: PlacedOrderProperties  # type: ignore[assignment]
    stage = Stage.PURCHASE


class OrderCompleted(Track):
    event: Literal["Order Completed"] = "Order Completed"
    properties: PlacedOrderProperties  # type: ignore[assignment]
    stage = Stage.PURCHASE


class OrderRefunded(Track):
    event: Literal["Order Refunded"] = "Order Refunded"
    properties: RefundProperties  # type: ignore[assignment]
    stage = Stage.RETENTION


class OrderCancelled(Track):
    event: Literal["Order Cancelled"] = "Order Cancelled"
    properties: PlacedOrderProperties  # type: ignore[assignment]
    stage = Stage.PURCHASE


# --- coupons ------------------------------------------------------------------------------


class CouponEntered(Track):
    event: Literal["Coupon Entered"] = "Coupon Entered"
    properties: CouponProperties  # type: ignore[assignment]
    stage = Stage.CONSIDERATION


class CouponApplied(Track):
    event: Literal["Coupon Applied"] = "Coupon Applied"
    properties: CouponProperties  # type: ignore[assignment]
    stage = Stage.CONSIDERATION


class CouponDenied(Track):
    event: Literal["Coupon Denied"] = "Coupon Denied"
    properties: CouponDeniedProperties = Field(default_factory=CouponDeniedProperties)  # type: ignore[assignment]
    stage = Stage.CONSIDERATION


class CouponRemoved(Track):
    event: Literal["Coupon Removed"] = "Coupon Removed"
    properties: CouponProperties  # type: ignore[assignment]
    stage = Stage.CONSIDERATION


# --- wishlisting, sharing, reviewing -----------------------------------------------------


class ProductAddedToWishlist(Track):
    event: Literal["Product Added to Wishlist"] = "Product Added to Wishlist"
    properties: WishlistProperties  # type: ignore[assignment]
    stage = Stage.CONSIDERATION


class ProductRemovedFromWishlist(Track):
    event: Literal["Product Removed from Wishlist"] = "Product Removed from Wishlist"
    properties: WishlistProperties  # type: ignore[assignment]
    stage = Stage.CONSIDERATION


class WishlistProductAddedToCart(Track):
    event: Literal["Wishlist Product Added to Cart"] = "Wishlist Product Added to Cart"
    properties: WishlistToCartProperties  # type: ignore[assignment]
    stage = Stage.CONSIDERATION


class ProductShared(Track):
    event: Literal["Product Shared"] = "Product Shared"
    properties: ProductSharedProperties  # type: ignore[assignment]
    stage = Stage.ADVOCACY


class CartShared(Track):
    event: Literal["Cart Shared"] = "Cart Shared"
    properties: CartSharedProperties = Field(default_factory=CartSharedProperties)  # type: ignore[assignment]
    stage = Stage.ADVOCACY


class ProductReviewed(Track):
    event: Literal["Product Reviewed"] = "Product Reviewed"
    properties: ReviewProperties  # type: ignore[assignment]
    stage = Stage.ADVOCACY


# --- beyond the spec: payment, shipment, returns --------------------------------------------


class OrderPaid(Track):
    event: Literal["Order Paid"] = "Order Paid"
    properties: OrderPaidProperties  # type: ignore[assignment]
    stage = Stage.PURCHASE


class PaymentFailed(Track):
    event: Literal["Payment Failed"] = "Payment Failed"
    properties: PaymentProperties = Field(default_factory=PaymentProperties)  # type: ignore[assignment]
    stage = Stage.PURCHASE


class CheckoutAbandoned(Track):
    event: Literal["Checkout Abandoned"] = "Checkout Abandoned"
    properties: CheckoutAbandonedProperties  # type: ignore[assignment]
    stage = Stage.PURCHASE


class ShipmentCreated(Track):
    event: Literal["Shipment Created"] = "Shipment Created"
    properties: ShipmentProperties  # type: ignore[assignment]
    stage = Stage.RETENTION


class ShipmentStatusUpdated(Track):
    event: Literal["Shipment Status Updated"] = "Shipment Status Updated"
    properties: ShipmentUpdateProperties  # type: ignore[assignment]
    stage = Stage.RETENTION


class ShipmentDelivered(Track):
    event: Literal["Shipment Delivered"] = "Shipment Delivered"
    properties: ShipmentProperties  # type: ignore[assignment]
    stage = Stage.RETENTION


class ReturnRequested(Track):
    event: Literal["Return Requested"] = "Return Requested"
    properties: ReturnProperties  # type: ignore[assignment]
    stage = Stage.RETENTION


class ReturnApproved(Track):
    event: Literal["Return Approved"] = "Return Approved"
    properties: ReturnProperties  # type: ignore[assignment]
    stage = Stage.RETENTION


class ReturnDeclined(Track):
    event: Literal["Return Declined"] = "Return Declined"
    properties: ReturnProperties  # type: ignore[assignment]
    stage = Stage.RETENTION


class ReturnShipmentCreated(Track):
    event: Literal["Return Shipment Created"] = "Return Shipment Created"
    properties: ReturnProperties  # type: ignore[assignment]
    stage = Stage.RETENTION


class ReturnReceived(Track):
    event: Literal["Return Received"] = "Return Received"
    properties: ReturnProperties  # type: ignore[assignment]
    stage = Stage.RETENTION


class ReturnClosed(Track):
    event: Literal["Return Closed"] = "Return Closed"
    properties: ReturnProperties  # type: ignore[assignment]
    stage = Stage.RETENTION


# --- service, feedback, recommendations, consent -------------------------------------------


class LiveChatConversationStarted(Track):
    event: Literal["Live Chat Conversation Started"] = "Live Chat Conversation Started"
    properties: ChatProperties  # type: ignore[assignment]
    stage = Stage.RETENTION


class LiveChatMessageSent(Track):
    event: Literal["Live Chat Message Sent"] = "Live Chat Message Sent"
    properties: ChatProperties  # type: ignore[assignment]
    stage = Stage.RETENTION


class LiveChatMessageReceived(Track):
    event: Literal["Live Chat Message Received"] = "Live Chat Message Received"
    properties: ChatProperties  # type: ignore[assignment]
    stage = Stage.RETENTION


class LiveChatConversationEnded(Track):
    event: Literal["Live Chat Conversation Ended"] = "Live Chat Conversation Ended"
    properties: ChatProperties  # type: ignore[assignment]
    stage = Stage.RETENTION


class SurveyShown(Track):
    event: Literal["Survey Shown"] = "Survey Shown"
    properties: SurveyShownProperties  # type: ignore[assignment]
    stage = Stage.ADVOCACY


class SurveyAnswered(Track):
    event: Literal["Survey Answered"] = "Survey Answered"
    properties: SurveyAnsweredProperties  # type: ignore[assignment]
    stage = Stage.ADVOCACY


class RecommendationShown(Track):
    event: Literal["Recommendation Shown"] = "Recommendation Shown"
    properties: RecommendationProperties  # type: ignore[assignment]
    stage = Stage.AWARENESS


class RecommendationClicked(Track):
    event: Literal["Recommendation Clicked"] = "Recommendation Clicked"
    properties: RecommendationClickedProperties  # type: ignore[assignment]
    stage = Stage.CONSIDERATION


class ConsentUpdated(Track):
    event: Literal["Consent Updated"] = "Consent Updated"
    properties: ConsentProperties  # type: ignore[assignment]
    stage = Stage.RETENTION


SEGMENT_ECOMMERCE: tuple[type[Track], ...] = (
    ProductsSearched,
    ProductListViewed,
    ProductListFiltered,
    PromotionViewed,
    PromotionClicked,
    ProductClicked,
    ProductViewed,
    ProductAdded,
    ProductRemoved,
    CartViewed,
    CheckoutStarted,
    CheckoutStepViewed,
    CheckoutStepCompleted,
    PaymentInfoEntered,
    OrderUpdated,
    OrderCompleted,
    OrderRefunded,
    OrderCancelled,
    CouponEntered,
    CouponApplied,
    CouponDenied,
    CouponRemoved,
    ProductAddedToWishlist,
    ProductRemovedFromWishlist,
    WishlistProductAddedToCart,
    ProductShared,
    CartShared,
    ProductReviewed,
)

JOURNEY_EXTENSIONS: tuple[type[Track], ...] = (
    OrderPaid,
    PaymentFailed,
    CheckoutAbandoned,
    ShipmentCreated,
    ShipmentStatusUpdated,
    ShipmentDelivered,
    ReturnRequested,
    ReturnApproved,
    ReturnDeclined,
    ReturnShipmentCreated,
    ReturnReceived,
    ReturnClosed,
    LiveChatConversationStarted,
    LiveChatMessageSent,
    LiveChatMessageReceived,
    LiveChatConversationEnded,
    SurveyShown,
    SurveyAnswered,
    RecommendationShown,
    RecommendationClicked,
    ConsentUpdated,
)


def _name(model: type[Track]) -> str:
    default = model.model_fields["event"].default
    assert isinstance(default, str)
    return default


CATALOG: dict[str, type[Track]] = {
    _name(model): model for model in SEGMENT_ECOMMERCE + JOURNEY_EXTENSIONS
}
