"""Every word the tracking widget may show for a state, as catalog msgids: translated only
when used, so a render does not pay for the labels it does not show."""

from __future__ import annotations

from ..config import N_

LABELS: dict[str, str] = {
    "placed": N_("Order placed"),
    "paid": N_("Payment received"),
    "cancelled": N_("Order cancelled"),
    "shipped": N_("Shipped"),
    "pending": N_("Shipment is being prepared"),
    "info_received": N_("The carrier has the shipment data"),
    "in_transit": N_("In transit"),
    "out_for_delivery": N_("Out for delivery"),
    "attempt_fail": N_("Delivery attempt failed"),
    "available_for_pickup": N_("Ready for pickup"),
    "delivered": N_("Delivered"),
    "exception": N_("Problem with the shipment"),
    "expired": N_("Tracking has expired"),
    "return_requested": N_("Return requested"),
    "return_approved": N_("Return approved"),
    "return_declined": N_("Return declined"),
    "return_in_transit": N_("Return parcel on its way to us"),
    "return_received": N_("Return received"),
    "return_closed": N_("Return completed"),
    "refund": N_("Refund"),
    "open": N_("Order received"),
    "refunded": N_("Refunded"),
    "partially_refunded": N_("Partially refunded"),
}

EXPLANATIONS: dict[str, str] = {
    "attempt_fail": N_(
        "The carrier could not deliver the parcel. They usually try again on the next "
        "working day or leave a notice where to collect it."
    ),
    "available_for_pickup": N_(
        "Your parcel is waiting at a pickup point. Please collect it in time, otherwise "
        "it goes back to us."
    ),
    "exception": N_(
        "The carrier reported a problem, so your parcel may arrive later. We keep an eye "
        "on it and will contact you if needed."
    ),
    "expired": N_(
        "The carrier no longer reports on this parcel. If it has not arrived, please contact us."
    ),
}

PUNCTUALITY: dict[str, str] = {
    "on_time": N_("On time"),
    "late": N_("Later than promised"),
    "delivered_on_time": N_("Delivered on time"),
    "delivered_late": N_("Delivered later than promised"),
}

RETURNS: dict[str, str] = {
    "requested": N_("requested"),
    "approved": N_("approved"),
    "declined": N_("declined"),
    "in_transit": N_("parcel on its way to us"),
    "received": N_("received"),
    "closed": N_("completed"),
}
