"""Learning to rank (``lossjax.ranking``): losses, lambda weights and metrics over lists.

Every function takes ``scores`` and graded relevance ``labels`` of shape
``(..., list_size)``, an optional ``item_mask`` (items that exist) and, where
rax has them, ``item_weights``; it gives one value per list and then applies
the reduction contract of every lossjax loss (``reduction``, ``weights``,
``where``, ``axis_name``) over the lists. Names and per-list values follow
rax 0.4.0. The losses are registered as ``"ranking.<name>"``
(``lossjax.get("ranking.softmax_loss")``, ``lossjax.suggest("ranking")``).
"""

from lossjax._ranking import ap_metric as ap_metric
from lossjax._ranking import approx_mrr_loss as approx_mrr_loss
from lossjax._ranking import approx_ndcg_loss as approx_ndcg_loss
from lossjax._ranking import dcg2_lambdaweight as dcg2_lambdaweight
from lossjax._ranking import dcg_lambdaweight as dcg_lambdaweight
from lossjax._ranking import dcg_metric as dcg_metric
from lossjax._ranking import labeldiff_lambdaweight as labeldiff_lambdaweight
from lossjax._ranking import listmle_loss as listmle_loss
from lossjax._ranking import mrr_metric as mrr_metric
from lossjax._ranking import ndcg_metric as ndcg_metric
from lossjax._ranking import pairwise_hinge_loss as pairwise_hinge_loss
from lossjax._ranking import pairwise_logistic_loss as pairwise_logistic_loss
from lossjax._ranking import pairwise_mse_loss as pairwise_mse_loss
from lossjax._ranking import pairwise_qr_loss as pairwise_qr_loss
from lossjax._ranking import pairwise_soft_zero_one_loss as pairwise_soft_zero_one_loss
from lossjax._ranking import pointwise_mse_loss as pointwise_mse_loss
from lossjax._ranking import pointwise_sigmoid_loss as pointwise_sigmoid_loss
from lossjax._ranking import poly1_softmax_loss as poly1_softmax_loss
from lossjax._ranking import precision_metric as precision_metric
from lossjax._ranking import recall_metric as recall_metric
from lossjax._ranking import softmax_loss as softmax_loss
from lossjax._ranking import unique_softmax_loss as unique_softmax_loss

__all__ = [
    "ap_metric",
    "approx_mrr_loss",
    "approx_ndcg_loss",
    "dcg2_lambdaweight",
    "dcg_lambdaweight",
    "dcg_metric",
    "labeldiff_lambdaweight",
    "listmle_loss",
    "mrr_metric",
    "ndcg_metric",
    "pairwise_hinge_loss",
    "pairwise_logistic_loss",
    "pairwise_mse_loss",
    "pairwise_qr_loss",
    "pairwise_soft_zero_one_loss",
    "pointwise_mse_loss",
    "pointwise_sigmoid_loss",
    "poly1_softmax_loss",
    "precision_metric",
    "recall_metric",
    "softmax_loss",
    "unique_softmax_loss",
]
