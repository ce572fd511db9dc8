"""``calibrate``'s options for a data set's published fits, shown next to the project's own in
the holdout report: ``--published-bgnbd`` and ``--published-gamma-gamma``."""

from __future__ import annotations

from typing import Any

# flag → (the args attribute, the parameters it must name)
PUBLISHED = {
    "--published-bgnbd": ("published_bgnbd", ("r", "alpha", "a", "b")),
    "--published-gamma-gamma": ("published_gamma_gamma", ("p", "q", "gamma")),
}


def add_published_options(p: Any) -> None:
    """``--published-bgnbd r=…,alpha=…,a=…,b=…`` and ``--published-gamma-gamma p=…,q=…,gamma=…``."""
    p.add_argument(
        "--published-bgnbd",
        default=None,
        metavar="r=R,alpha=A,a=A,b=B",
        help="BG/NBD parameters published for this data set (weeks), shown next to the fit "
        "in the holdout report (e.g. CDNOW: r=0.243,alpha=4.414,a=0.793,b=2.426)",
    )
    p.add_argument(
        "--published-gamma-gamma",
        default=None,
        metavar="p=P,q=Q,gamma=G",
        help="gamma-gamma spend parameters published for this data set, shown likewise "
        "(e.g. CDNOW: p=6.25,q=3.74,gamma=15.44)",
    )


def published(text: str | None) -> dict[str, float] | None:
    """``"r=0.2,alpha=4"`` → ``{"r": 0.2, "alpha": 4.0}``; None for None. A value that is not a
    number raises ValueError (:func:`check_published` turns that into the flag's error)."""
    if text is None:
        return None
    out = {}
    for part in text.split(","):
        key, _, value = part.partition("=")
        out[key.strip()] = float(value)
    return out


def check_published(args: Any, error) -> None:
    """Raise ``error`` naming the flag when a published fit is not its positive parameters."""
    for flag, (attr, keys) in PUBLISHED.items():
        text = getattr(args, attr)
        if text is None:
            continue
        try:
            pub = published(text)
        except ValueError:
            pub = {}
        if set(pub) != set(keys) or min(pub.values()) <= 0:
            wanted = ",".join(f"{k}=…" for k in keys)
            raise error(f"{flag}: expected {wanted} (positive numbers), got {text!r}")
