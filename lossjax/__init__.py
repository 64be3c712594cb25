"""lossjax: a JAX-native functional loss toolkit.

Every loss is a pure function of arrays that works under ``jax.jit``,
``jax.grad``, ``jax.vmap``, ``jax.jvp``, ``jax.hessian`` and ``jax.shard_map``,
and shares one reduction contract (:func:`reduce_loss`).
"""

__version__ = "0.1.0"
__all__: list[str] = []

# -- reduction -----------------------------------------------------------------
from lossjax._reduction import reduce_loss as reduce_loss

__all__ += ["reduce_loss"]

# -- regression ----------------------------------------------------------------
from lossjax._regression import cosine_distance as cosine_distance
from lossjax._regression import huber_loss as huber_loss
from lossjax._regression import log_cosh_loss as log_cosh_loss
from lossjax._regression import mean_absolute_error as mean_absolute_error
from lossjax._regression import mean_absolute_percentage_error as mean_absolute_percentage_error
from lossjax._regression import mean_squared_error as mean_squared_error
from lossjax._regression import mean_squared_logarithmic_error as mean_squared_logarithmic_error
from lossjax._regression import quantile_loss as quantile_loss
from lossjax._regression import smooth_l1_loss as smooth_l1_loss

__all__ += [
    "cosine_distance",
    "huber_loss",
    "log_cosh_loss",
    "mean_absolute_error",
    "mean_absolute_percentage_error",
    "mean_squared_error",
    "mean_squared_logarithmic_error",
    "quantile_loss",
    "smooth_l1_loss",
]

# -- probabilistic regression (lossjax/_probabilistic.py) ------------------------
from lossjax._probabilistic import gaussian_nll_loss as gaussian_nll_loss
from lossjax._probabilistic import poisson_loss as poisson_loss
from lossjax._probabilistic import tweedie_deviance as tweedie_deviance

__all__ += ["gaussian_nll_loss", "poisson_loss", "tweedie_deviance"]

# -- binary classification (lossjax/_classification.py) --------------------------
from lossjax._classification import binary_cross_entropy as binary_cross_entropy
from lossjax._classification import focal_loss as focal_loss
from lossjax._classification import hinge_loss as hinge_loss

__all__ += ["binary_cross_entropy", "focal_loss", "hinge_loss"]

# -- multiclass (lossjax/_multiclass.py) -----------------------------------------
from lossjax._multiclass import categorical_cross_entropy as categorical_cross_entropy
from lossjax._multiclass import categorical_focal_loss as categorical_focal_loss
from lossjax._multiclass import convex_kl_divergence as convex_kl_divergence
from lossjax._multiclass import generalized_cross_entropy as generalized_cross_entropy
from lossjax._multiclass import kl_divergence as kl_divergence
from lossjax._multiclass import poly_cross_entropy as poly_cross_entropy
from lossjax._multiclass import (
    sparse_categorical_cross_entropy as sparse_categorical_cross_entropy,
)

__all__ += [
    "categorical_cross_entropy",
    "categorical_focal_loss",
    "convex_kl_divergence",
    "generalized_cross_entropy",
    "kl_divergence",
    "poly_cross_entropy",
    "sparse_categorical_cross_entropy",
]

# -- margin losses (lossjax/_margin.py) -------------------------------------------
from lossjax._margin import make_fenchel_young_loss as make_fenchel_young_loss
from lossjax._margin import multiclass_hinge_loss as multiclass_hinge_loss
from lossjax._margin import multiclass_perceptron_loss as multiclass_perceptron_loss
from lossjax._margin import multiclass_sparsemax_loss as multiclass_sparsemax_loss
from lossjax._margin import perceptron_loss as perceptron_loss
from lossjax._margin import sparsemax_loss as sparsemax_loss
from lossjax._margin import squared_hinge_loss as squared_hinge_loss

__all__ += [
    "make_fenchel_young_loss",
    "multiclass_hinge_loss",
    "multiclass_perceptron_loss",
    "multiclass_sparsemax_loss",
    "perceptron_loss",
    "sparsemax_loss",
    "squared_hinge_loss",
]

# -- unsupervised (lossjax/_unsupervised.py) -------------------------------------
from lossjax._unsupervised import contrastive_loss as contrastive_loss
from lossjax._unsupervised import info_nce_loss as info_nce_loss
from lossjax._unsupervised import kmeans_loss as kmeans_loss
from lossjax._unsupervised import reconstruction_loss as reconstruction_loss

__all__ += ["contrastive_loss", "info_nce_loss", "kmeans_loss", "reconstruction_loss"]

# -- fused large-vocabulary cross-entropy (lossjax/_linear_cross_entropy.py) -----
from lossjax._linear_cross_entropy import linear_cross_entropy as linear_cross_entropy

__all__ += ["linear_cross_entropy"]

# -- sequences: log-probabilities, exact accumulation (lossjax/_sequence.py) -----
from lossjax._sequence import linear_sequence_log_probs as linear_sequence_log_probs
from lossjax._sequence import sequence_log_probs as sequence_log_probs
from lossjax._sequence import sum_and_count as sum_and_count

__all__ += ["linear_sequence_log_probs", "sequence_log_probs", "sum_and_count"]

# -- ranking: a public submodule, lossjax.ranking (lossjax/_ranking.py) -----------
from lossjax import ranking as ranking

__all__ += ["ranking"]

# -- metric learning: triplets, margins, pairs (lossjax/_metric_learning.py) ------
from lossjax._metric_learning import batch_triplet_loss as batch_triplet_loss
from lossjax._metric_learning import cosine_embedding_loss as cosine_embedding_loss
from lossjax._metric_learning import hinge_embedding_loss as hinge_embedding_loss
from lossjax._metric_learning import margin_ranking_loss as margin_ranking_loss
from lossjax._metric_learning import triplet_margin_loss as triplet_margin_loss

__all__ += [
    "batch_triplet_loss",
    "cosine_embedding_loss",
    "hinge_embedding_loss",
    "margin_ranking_loss",
    "triplet_margin_loss",
]
# (issue 14 metric-learning A: insert imports and __all__ here)

# -- contrastive embeddings and margin softmax (lossjax/_contrastive.py) ----------
from lossjax._contrastive import circle_loss as circle_loss
from lossjax._contrastive import margin_softmax_loss as margin_softmax_loss
from lossjax._contrastive import ntxent_loss as ntxent_loss
from lossjax._contrastive import sigmoid_contrastive_loss as sigmoid_contrastive_loss

__all__ += ["circle_loss", "margin_softmax_loss", "ntxent_loss", "sigmoid_contrastive_loss"]
# (issue 14 metric-learning B: insert imports and __all__ here)

# -- segmentation (lossjax/_segmentation.py) --------------------------------------
from lossjax._segmentation import dice_loss as dice_loss
from lossjax._segmentation import focal_tversky_loss as focal_tversky_loss
from lossjax._segmentation import generalized_dice_loss as generalized_dice_loss
from lossjax._segmentation import lovasz_hinge_loss as lovasz_hinge_loss
from lossjax._segmentation import lovasz_softmax_loss as lovasz_softmax_loss
from lossjax._segmentation import tversky_loss as tversky_loss

__all__ += [
    "dice_loss",
    "focal_tversky_loss",
    "generalized_dice_loss",
    "lovasz_hinge_loss",
    "lovasz_softmax_loss",
    "tversky_loss",
]
# (issue 14 segmentation: insert imports and __all__ here)

# -- detection and CTC (lossjax/_detection.py, lossjax/_ctc.py) --------------------
from lossjax._ctc import ctc_loss as ctc_loss
from lossjax._detection import box_iou_loss as box_iou_loss

__all__ += ["box_iou_loss", "ctc_loss"]
# (issue 14 detection+ctc: insert imports and __all__ here)

# -- knowledge distillation (lossjax/_distillation.py) ----------------------------
from lossjax._distillation import distillation_loss as distillation_loss

__all__ += ["distillation_loss"]

# -- preference optimisation (lossjax/_preference.py) -----------------------------
from lossjax._preference import PreferenceRewards as PreferenceRewards
from lossjax._preference import dpo_loss as dpo_loss
from lossjax._preference import dpo_rewards as dpo_rewards
from lossjax._preference import orpo_loss as orpo_loss
from lossjax._preference import simpo_loss as simpo_loss

__all__ += ["PreferenceRewards", "dpo_loss", "dpo_rewards", "orpo_loss", "simpo_loss"]

# -- generative models (lossjax/_generative.py) -----------------------------------
from lossjax._generative import diffusion_loss as diffusion_loss
from lossjax._generative import gan_discriminator_loss as gan_discriminator_loss
from lossjax._generative import gan_generator_loss as gan_generator_loss
from lossjax._generative import gaussian_kl_divergence as gaussian_kl_divergence
from lossjax._generative import gradient_penalty as gradient_penalty

__all__ += [
    "diffusion_loss",
    "gan_discriminator_loss",
    "gan_generator_loss",
    "gaussian_kl_divergence",
    "gradient_penalty",
]

# -- regularization (lossjax/_regularization.py, lossjax/masks.py) ---------------
from lossjax import masks as masks
from lossjax._regularization import add_elastic_net as add_elastic_net
from lossjax._regularization import add_l1 as add_l1
from lossjax._regularization import add_l2 as add_l2
from lossjax._regularization import elastic_net_penalty as elastic_net_penalty
from lossjax._regularization import l1_penalty as l1_penalty
from lossjax._regularization import l2_penalty as l2_penalty
from lossjax._regularization import proximal_l1 as proximal_l1
from lossjax._regularization import regularized as regularized
from lossjax._regularization import soft_threshold as soft_threshold

__all__ += [
    "add_elastic_net",
    "add_l1",
    "add_l2",
    "elastic_net_penalty",
    "l1_penalty",
    "l2_penalty",
    "masks",
    "proximal_l1",
    "regularized",
    "soft_threshold",
]

# -- checked mode: value checks under jit (lossjax/_checked.py) -------------------
from lossjax._checked import checked as checked

__all__ += ["checked"]

# -- optional fast paths (lossjax/_kernels/) ------------------------------------
from lossjax._kernels import get_kernels as get_kernels
from lossjax._kernels import kernels as kernels
from lossjax._kernels import set_kernels as set_kernels

__all__ += ["get_kernels", "kernels", "set_kernels"]

# -- the loss comparison harness (lossjax/compare/, `python -m lossjax compare`) ---
from lossjax import compare as compare

__all__ += ["compare"]

# -- registry, recommendations, command line (lossjax/_registry.py, lossjax/_cli.py) ---
from lossjax._registry import Hyperparameter as Hyperparameter
from lossjax._registry import LossInfo as LossInfo
from lossjax._registry import Suggestion as Suggestion
from lossjax._registry import available as available
from lossjax._registry import get as get
from lossjax._registry import info as info
from lossjax._registry import suggest as suggest

__all__ += ["Hyperparameter", "LossInfo", "Suggestion", "available", "get", "info", "suggest"]
