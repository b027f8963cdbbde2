"""The central registry: copy images by digest (``registry promote``)."""

from patchwarden.app.promote.copy import Copier, CopyStats
from patchwarden.app.promote.run import Promoter, PromoteResult, PromotionRefused

__all__ = ["Copier", "CopyStats", "PromoteResult", "Promoter", "PromotionRefused"]
