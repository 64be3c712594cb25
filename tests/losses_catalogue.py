"""One list of every public loss with small valid inputs, shared by the tests
that check each loss under JAX transformations, sharding and the registry.

Each entry builds a batched call: the arrays in ``mapped`` have a leading axis
of size B and every slice along it is a complete, valid call of the loss; the
arrays in ``fixed`` are the same for every slice (centroids, a weight matrix).
``merge`` folds the leading axis into the examples for losses whose examples are
independent, so ``reduction="none"`` on the merged call gives one value per
(slice, example).
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Callable
from typing import Any

import jax.numpy as jnp
import numpy as np

import lossjax

B, R = 3, 4  # slices, examples per slice


@dataclasses.dataclass(frozen=True)
class Spec:
    name: str
    fn_name: str  # public name in lossjax (dotted for a submodule: "ranking.softmax_loss")
    # make(rng) -> (positional arrays with leading axis B, in_axes, kwargs)
    make: Callable[[np.random.Generator], tuple[tuple[Any, ...], tuple[Any, ...], dict]]
    smooth: bool = True  # twice differentiable at generic points (check_grads order 2)
    independent: bool = True  # examples independent (no in-batch negatives)
    diff_args: tuple[int, ...] = (0,)  # positional args to differentiate
    # False for a loss whose derivative is a custom_vjp by design (no forward mode).
    forward_mode: bool = True

    @property
    def fn(self) -> Callable[..., Any]:
        # "ranking.softmax_loss" is lossjax.ranking.softmax_loss
        return operator.attrgetter(self.fn_name)(lossjax)

    def __repr__(self):
        return self.name


def _normal(rng, *shape, scale=1.0):
    return (rng.normal(size=shape) * scale).astype(np.float32)


def _pair(scale=1.0):
    return lambda rng: ((_normal(rng, B, R, scale=scale), _normal(rng, B, R)), (0, 0), {})


def _binary(rng):
    return (
        (_normal(rng, B, R, scale=2.0), (rng.uniform(size=(B, R)) < 0.5).astype(np.float32)),
        (0, 0),
        {},
    )


def _soft_binary(rng):
    return (
        (_normal(rng, B, R, scale=2.0), rng.uniform(0.05, 0.95, size=(B, R)).astype(np.float32)),
        (0, 0),
        {},
    )


K = 5


def _probs(rng):
    p = rng.dirichlet(np.ones(K), size=(B, R)).astype(np.float32)
    return p


def _cce(rng):
    return (_normal(rng, B, R, K, scale=2.0), _probs(rng)), (0, 0), {}


def _sparse(rng):
    return (
        (_normal(rng, B, R, K, scale=2.0), rng.integers(0, K, size=(B, R)).astype(np.int32)),
        (0, 0),
        {},
    )


def _kmeans(rng):
    return (_normal(rng, B, R, 2, scale=2.0), _normal(rng, 3, 2)), (0, None), {}


def _reconstruction(rng):
    return (_normal(rng, B, R, 6), rng.uniform(size=(B, R, 6)).astype(np.float32)), (0, 0), {}


def _contrastive(rng):
    a, b = _normal(rng, B, R, 3), _normal(rng, B, R, 3)
    return (a, b, (rng.uniform(size=(B, R)) < 0.5).astype(np.float32)), (0, 0, 0), {"margin": 3.0}


def _info_nce(rng):
    return (_normal(rng, B, R, 3), _normal(rng, B, R, 3)), (0, 0), {"temperature": 0.5}


def _linear_ce(rng):
    return (
        (
            _normal(rng, B, R, 6),
            _normal(rng, 6, 11, scale=0.5),
            rng.integers(0, 11, size=(B, R)).astype(np.int32),
        ),
        (0, None, 0),
        {"block_size": 4},
    )


def _with(kwargs, make):
    def wrapped(rng):
        args, axes, kw = make(rng)
        return args, axes, {**kw, **kwargs}

    return wrapped


def _uniform(rng, low, high):
    return rng.uniform(low, high, size=(B, R)).astype(np.float32)


def _positive_pair(rng):  # msle, tweedie: positive means, non-negative targets with a zero
    targets = _uniform(rng, 0.0, 3.0)
    targets[:, 0] = 0.0
    return (_uniform(rng, 0.2, 3.0), targets), (0, 0), {}


def _percentage(rng):  # targets away from zero, of both signs
    sign = np.where(rng.uniform(size=(B, R)) < 0.5, -1.0, 1.0).astype(np.float32)
    return (_normal(rng, B, R), sign * _uniform(rng, 0.5, 2.0)), (0, 0), {}


def _vectors(rng):
    return (_normal(rng, B, R, 3), _normal(rng, B, R, 3)), (0, 0), {}


def _counts(log_input):
    def make(rng):
        counts = rng.poisson(2.0, size=(B, R)).astype(np.float32)
        rate = _normal(rng, B, R, scale=0.5) if log_input else _uniform(rng, 0.2, 3.0)
        return (rate, counts), (0, 0), {"log_input": log_input, "full": True}

    return make


def _gaussian(rng):
    return (_normal(rng, B, R), _normal(rng, B, R), _uniform(rng, 0.5, 2.0)), (0, 0, 0), {}


LIST = 5  # items per ranking list; each example is a list


def _lists(rng):
    """Scores and graded labels [B, R, LIST]; every list has a relevant item and a valid pair."""
    labels = rng.integers(0, 3, size=(B, R, LIST)).astype(np.float32)
    labels[..., 0], labels[..., 1] = 2.0, 0.0
    return (_normal(rng, B, R, LIST), labels), (0, 0), {}


# The last item of every list is padding (a per-item mask broadcast over the lists).
_PADDING = {"item_mask": np.arange(LIST)[None, :] < LIST - 1}


def _ranking(name, variant="", smooth=True, **kwargs):
    return Spec(f"ranking.{name}{variant}", f"ranking.{name}", _with(kwargs, _lists), smooth=smooth)


# -- objectives (lossjax/_distillation.py, _preference.py, _generative.py)


def _logit_pair(rng):  # student and teacher logits over K classes
    return (_normal(rng, B, R, K, scale=2.0), _normal(rng, B, R, K, scale=2.0)), (0, 0), {}


def _dpo(rng):
    logps = tuple(_uniform(rng, -30.0, -5.0) for _ in range(4))
    return logps, (0, 0, 0, 0), {"beta": 0.5}


def _mean_logps(rng):  # mean per-token log-probabilities: negative
    return (_uniform(rng, -3.0, -0.1), _uniform(rng, -3.0, -0.1)), (0, 0), {}


def _orpo(rng):
    chosen = _uniform(rng, -3.0, -0.1)
    return (chosen, _uniform(rng, -3.0, -0.1), -chosen), (0, 0, 0), {}


_CRITIC_W1 = np.random.default_rng(99).normal(size=(3, 4)).astype(np.float32)
_CRITIC_W2 = np.random.default_rng(98).normal(size=4).astype(np.float32)


def _critic(x):  # a fixed smooth critic that treats examples independently
    hidden = x @ _CRITIC_W1
    return 0.5 * jnp.sum(jnp.square(hidden), axis=-1) + hidden @ _CRITIC_W2


def _penalty(rng):
    key = np.array([0, 7], np.uint32)  # a raw jax.random key, shared by every slice
    return (
        (_normal(rng, B, R, 3), _normal(rng, B, R, 3), key),
        (0, 0, None),
        {"kind": "r1", "critic_fn": _critic},
    )


def _diffusion(rng):
    return (
        (_normal(rng, B, R, 3), _normal(rng, B, R, 3), _uniform(rng, 0.1, 20.0)),
        (0, 0, 0),
        {"prediction": "v", "weighting": "min_snr"},
    )


# -- segmentation (lossjax/_segmentation.py): R images of 3x3 pixels, K classes, channels-last
SIDE = 3


def _seg_labels(rng, num_classes=K):
    return rng.integers(0, num_classes, size=(B, R, SIDE, SIDE)).astype(np.int32)


def _seg_onehot(rng):
    logits = _normal(rng, B, R, SIDE, SIDE, K, scale=2.0)
    return (logits, np.eye(K, dtype=np.float32)[_seg_labels(rng)]), (0, 0), {}


def _seg_map(rng):
    return (_normal(rng, B, R, SIDE, SIDE, K, scale=2.0), _seg_labels(rng)), (0, 0), {}


def _seg_multilabel(rng):  # K independent sigmoid channels
    masks = (rng.uniform(size=(B, R, SIDE, SIDE, K)) < 0.4).astype(np.float32)
    return (_normal(rng, B, R, SIDE, SIDE, K, scale=2.0), masks), (0, 0), {"activation": "sigmoid"}


def _lovasz_binary(rng):
    labels = _seg_labels(rng, 2)
    return (_normal(rng, B, R, SIDE, SIDE, scale=2.0), labels), (0, 0), {}


# -- issue 14 detection+ctc (lossjax/_detection.py, lossjax/_ctc.py)


def _boxes(rng, same_aspect=False):
    """Valid boxes (x1 < x2, y1 < y2) [B, R, 4] and overlapping-or-not targets."""
    corner, size = _uniform4(rng, 0.0, 4.0), _uniform4(rng, 0.5, 3.0)
    target_corner = _uniform4(rng, 0.0, 4.0)
    if same_aspect:
        target_size = size * _uniform4(rng, 0.5, 2.0)[..., :1]
    else:
        target_size = _uniform4(rng, 0.5, 3.0)
    boxes = np.concatenate([corner, corner + size], axis=-1)
    targets = np.concatenate([target_corner, target_corner + target_size], axis=-1)
    return boxes.astype(np.float32), targets.astype(np.float32)


def _uniform4(rng, low, high):
    return rng.uniform(low, high, size=(B, R, 2))


def _box_iou(kind):
    def make(rng):
        # CIoU: equal aspect ratios (v = 0), where its constant-alpha gradient (torchvision's)
        # is the exact derivative; elsewhere it is not by design (tests/test_detection.py).
        return _boxes(rng, same_aspect=kind == "ciou"), (0, 0), {"kind": kind}

    return make


CTC_FRAMES, CTC_VOCAB, CTC_LABELS = 6, 4, 3


def _ctc(rng):
    """Logits [B, R, 6, 4], labels [B, R, 3] (blank 0); the last frame and label are padding."""
    labels = rng.integers(1, CTC_VOCAB, size=(B, R, CTC_LABELS)).astype(np.int32)
    kwargs = {
        "logit_paddings": (np.arange(CTC_FRAMES) == CTC_FRAMES - 1)[None].astype(np.float32),
        "label_paddings": (np.arange(CTC_LABELS) == CTC_LABELS - 1)[None].astype(np.float32),
        # (Declared paddings include 1.0 everywhere: no alignment, 0 rather than inf.)
        "zero_infinity": True,
    }
    return (_normal(rng, B, R, CTC_FRAMES, CTC_VOCAB, scale=2.0), labels), (0, 0), kwargs


# -- issue 14 metric-learning A (lossjax/_metric_learning.py)


def _triplets(rng):
    """(anchor, positive, negative) [B, R, 3]; margin 2 keeps most hinges active."""
    args = tuple(_normal(rng, B, R, 3) for _ in range(3))
    return args, (0, 0, 0), {"margin": 2.0}


def _mined(mining, distance="euclidean"):
    """Embeddings [B, R, 3], labels [B, R]: two classes of two in each slice, so every
    anchor has a positive and a negative (and the mean is that of the per-anchor values)."""

    def make(rng):
        labels = np.stack([rng.permutation([0, 0, 1, 1]) for _ in range(B)]).astype(np.int32)
        kwargs = {"mining": mining, "distance": distance, "margin": 2.0}
        return (_normal(rng, B, R, 3), labels), (0, 0), kwargs

    return make


def _signs(rng):
    return np.where(rng.uniform(size=(B, R)) < 0.5, -1, 1).astype(np.int32)


def _cosine_pairs(rng):
    args = (_normal(rng, B, R, 3), _normal(rng, B, R, 3), _signs(rng))
    return args, (0, 0, 0), {"margin": 0.2}


def _ranked_pairs(rng):
    args = (_normal(rng, B, R), _normal(rng, B, R), _signs(rng).astype(np.float32))
    return args, (0, 0, 0), {"margin": 0.5}


def _hinge_distances(rng):
    return (_uniform(rng, 0.0, 2.0), _signs(rng)), (0, 0), {}


# -- issue 14 metric-learning B (lossjax/_contrastive.py): each slice is a batch of R
# embeddings in two groups of two, so every anchor has one positive and two negatives
def _grouped_embeddings(rng):
    labels = np.stack([rng.permutation([0, 0, 1, 1]) for _ in range(B)]).astype(np.int32)
    return (_normal(rng, B, R, 3), labels), (0, 0), {}


def _siglip(rng):
    return (
        (_normal(rng, B, R, 3), _normal(rng, B, R, 3)),
        (0, 0),
        {"temperature": 0.5, "bias": -1.0},
    )


def _margin_softmax(rng):
    cosines = rng.uniform(-0.95, 0.95, size=(B, R, K)).astype(np.float32)
    return (cosines, rng.integers(0, K, size=(B, R)).astype(np.int32)), (0, 0), {"scale": 4.0}


CATALOGUE = [
    Spec("mean_squared_error", "mean_squared_error", _pair()),
    Spec("mean_absolute_error", "mean_absolute_error", _pair(), smooth=False),
    Spec("huber_loss", "huber_loss", _with({"delta": 0.5}, _pair(2.0)), smooth=False),
    Spec("log_cosh_loss", "log_cosh_loss", _pair(2.0)),
    # -- more regression (lossjax/_regression.py, lossjax/_probabilistic.py)
    Spec("smooth_l1_loss", "smooth_l1_loss", _with({"beta": 0.5}, _pair(2.0)), smooth=False),
    Spec("mean_squared_logarithmic_error", "mean_squared_logarithmic_error", _positive_pair),
    Spec(
        "mean_absolute_percentage_error",
        "mean_absolute_percentage_error",
        _percentage,
        smooth=False,
        diff_args=(0, 1),
    ),
    Spec("quantile_loss", "quantile_loss", _with({"quantile": 0.3}, _pair()), smooth=False),
    Spec("cosine_distance", "cosine_distance", _vectors, diff_args=(0, 1)),
    Spec("poisson_loss", "poisson_loss", _counts(True)),
    Spec("poisson_loss_rates", "poisson_loss", _counts(False)),
    Spec("gaussian_nll_loss", "gaussian_nll_loss", _gaussian, diff_args=(0, 2)),
    Spec("tweedie_deviance", "tweedie_deviance", _with({"power": 1.5}, _positive_pair)),
    Spec("binary_cross_entropy", "binary_cross_entropy", _soft_binary),
    Spec("hinge_loss", "hinge_loss", _binary, smooth=False),
    Spec("focal_loss", "focal_loss", _with({"gamma": 2.0, "alpha": 0.25}, _binary)),
    Spec(
        "categorical_cross_entropy",
        "categorical_cross_entropy",
        _with({"label_smoothing": 0.1}, _cce),
    ),
    Spec(
        "sparse_categorical_cross_entropy",
        "sparse_categorical_cross_entropy",
        _with({"label_smoothing": 0.1}, _sparse),
    ),
    Spec("categorical_focal_loss", "categorical_focal_loss", _with({"gamma": 2.0}, _sparse)),
    Spec("kl_divergence", "kl_divergence", _cce, diff_args=(0, 1)),
    Spec(
        "categorical_focal_loss_dense_class_mask",
        "categorical_focal_loss",
        _with(
            {"label_smoothing": 0.1, "alpha": 0.25, "class_mask": np.arange(K) != 2},
            _cce,
        ),
    ),
    Spec(
        "sparse_categorical_cross_entropy_class_mask",
        "sparse_categorical_cross_entropy",
        _with({"label_smoothing": 0.1, "class_mask": np.arange(K) != 1}, _sparse),
    ),
    Spec("poly_cross_entropy", "poly_cross_entropy", _with({"label_smoothing": 0.1}, _cce)),
    Spec("generalized_cross_entropy", "generalized_cross_entropy", _sparse),
    Spec(
        "convex_kl_divergence",
        "convex_kl_divergence",
        lambda rng: (
            (_normal(rng, B, R, K), rng.uniform(0.1, 2.0, size=(B, R, K)).astype(np.float32)),
            (0, 0),
            {},
        ),
        diff_args=(0, 1),
    ),
    # -- margin losses (lossjax/_margin.py)
    Spec("squared_hinge_loss", "squared_hinge_loss", _binary),
    Spec("perceptron_loss", "perceptron_loss", _binary, smooth=False),
    Spec("sparsemax_loss", "sparsemax_loss", _binary, smooth=False),
    Spec("multiclass_perceptron_loss", "multiclass_perceptron_loss", _sparse, smooth=False),
    Spec("multiclass_sparsemax_loss", "multiclass_sparsemax_loss", _sparse, smooth=False),
    Spec("multiclass_hinge_loss", "multiclass_hinge_loss", _sparse, smooth=False),
    Spec(
        "multiclass_hinge_loss_weston_watkins",
        "multiclass_hinge_loss",
        _with({"kind": "weston_watkins", "p": 2, "margin": 0.5}, _sparse),
        smooth=False,
    ),
    Spec("kmeans_loss", "kmeans_loss", _kmeans, diff_args=(0, 1)),
    Spec("reconstruction_loss", "reconstruction_loss", _reconstruction),
    Spec("reconstruction_loss_bce", "reconstruction_loss", _with({"kind": "bce"}, _reconstruction)),
    Spec("contrastive_loss", "contrastive_loss", _contrastive, diff_args=(0, 1)),
    Spec("info_nce_loss", "info_nce_loss", _info_nce, independent=False, diff_args=(0, 1)),
    Spec(
        "linear_cross_entropy",
        "linear_cross_entropy",
        _linear_ce,
        diff_args=(0, 1),
        forward_mode=False,
    ),
    # -- ranking (lossjax/_ranking.py): each example is a list of LIST items
    _ranking("softmax_loss"),
    _ranking("softmax_loss", "_item_mask", **_PADDING),
    _ranking("poly1_softmax_loss", epsilon=0.5),
    _ranking("unique_softmax_loss"),
    _ranking("listmle_loss", **_PADDING),
    _ranking("pairwise_hinge_loss", smooth=False),
    _ranking("pairwise_logistic_loss"),
    _ranking(
        "pairwise_logistic_loss",
        "_dcg_lambdaweight",
        lambdaweight_fn=lossjax.ranking.dcg_lambdaweight,
    ),
    _ranking("pairwise_soft_zero_one_loss"),
    _ranking("pairwise_mse_loss"),
    _ranking("pairwise_qr_loss", smooth=False, tau=0.3),
    _ranking("pointwise_mse_loss"),
    _ranking("pointwise_sigmoid_loss"),
    _ranking("approx_ndcg_loss", temperature=0.5),
    # (With topn, rax's cutoff threshold is a constant in the gradient: not in this list.)
    _ranking("approx_ndcg_loss", "_item_mask", **_PADDING),
    _ranking("approx_mrr_loss"),
    # -- objectives (lossjax/_distillation.py, _preference.py, _generative.py)
    Spec("distillation_loss", "distillation_loss", _with({"temperature": 2.0}, _logit_pair)),
    Spec(
        "distillation_loss_jsd_top_k",
        "distillation_loss",
        _with({"kind": "jsd", "beta": 0.3, "top_k": 3}, _logit_pair),
        diff_args=(0, 1),
    ),
    Spec(
        "distillation_loss_reverse_kl",
        "distillation_loss",
        _with({"kind": "reverse_kl"}, _logit_pair),
    ),
    Spec("dpo_loss", "dpo_loss", _with({"label_smoothing": 0.1}, _dpo), diff_args=(0, 1)),
    Spec("dpo_loss_ipo", "dpo_loss", _with({"kind": "ipo"}, _dpo), diff_args=(0, 1)),
    Spec("simpo_loss", "simpo_loss", _mean_logps, diff_args=(0, 1)),
    Spec("orpo_loss", "orpo_loss", _orpo, diff_args=(0, 1)),
    Spec(
        "gaussian_kl_divergence",
        "gaussian_kl_divergence",
        _with({"prior_means": 0.5, "prior_log_variances": -0.5}, _vectors),
        diff_args=(0, 1),
    ),
    Spec(
        "gan_generator_loss",
        "gan_generator_loss",
        lambda rng: ((_normal(rng, B, R, scale=2.0),), (0,), {}),
    ),
    Spec(
        "gan_discriminator_loss",
        "gan_discriminator_loss",
        _with({"kind": "least_squares"}, _pair(2.0)),
        diff_args=(0, 1),
    ),
    Spec(
        "gan_discriminator_loss_hinge",
        "gan_discriminator_loss",
        _with({"kind": "hinge"}, _pair(2.0)),
        smooth=False,
        diff_args=(0, 1),
    ),
    Spec("gradient_penalty", "gradient_penalty", _penalty),
    Spec("diffusion_loss", "diffusion_loss", _diffusion),
    # -- metric learning (lossjax/_metric_learning.py)
    Spec(
        "triplet_margin_loss", "triplet_margin_loss", _triplets, smooth=False, diff_args=(0, 1, 2)
    ),
    Spec(
        "triplet_margin_loss_swap_p3",
        "triplet_margin_loss",
        _with({"swap": True, "p": 3.0}, _triplets),
        smooth=False,
        diff_args=(0, 1, 2),
    ),
    Spec(
        "batch_triplet_loss",
        "batch_triplet_loss",
        _mined("batch_hard"),
        smooth=False,
        independent=False,
    ),
    Spec(
        "batch_triplet_loss_batch_all_squared",
        "batch_triplet_loss",
        _mined("batch_all", "squared_euclidean"),
        smooth=False,
        independent=False,
    ),
    Spec(
        "batch_triplet_loss_semi_hard",
        "batch_triplet_loss",
        _mined("semi_hard"),
        smooth=False,
        independent=False,
    ),
    Spec(
        "batch_triplet_loss_cosine",
        "batch_triplet_loss",
        _mined("batch_hard", "cosine"),
        smooth=False,
        independent=False,
    ),
    Spec(
        "cosine_embedding_loss",
        "cosine_embedding_loss",
        _cosine_pairs,
        smooth=False,
        diff_args=(0, 1),
    ),
    Spec(
        "margin_ranking_loss", "margin_ranking_loss", _ranked_pairs, smooth=False, diff_args=(0, 1)
    ),
    Spec("hinge_embedding_loss", "hinge_embedding_loss", _hinge_distances, smooth=False),
    # -- issue 14 metric-learning A: insert Specs above this line --
    Spec(
        "ntxent_loss",
        "ntxent_loss",
        _with({"temperature": 0.5}, _grouped_embeddings),
        independent=False,
    ),
    Spec(
        "sigmoid_contrastive_loss",
        "sigmoid_contrastive_loss",
        _siglip,
        independent=False,
        diff_args=(0, 1),
    ),
    Spec("margin_softmax_loss", "margin_softmax_loss", _margin_softmax),
    Spec(
        "margin_softmax_loss_combined",
        "margin_softmax_loss",
        _with(
            {"angular_margin": 0.3, "additive_margin": 0.2, "multiplicative_margin": 1.5},
            _margin_softmax,
        ),
    ),
    Spec(
        "circle_loss",
        "circle_loss",
        # gamma scales the gradients and their float32 rounding (sharded sums differ by
        # ~1e-6 of the largest entry): gamma = 1 keeps them within the distributed tests' atol.
        _with({"gamma": 1.0, "margin": 0.25}, _grouped_embeddings),
        independent=False,
    ),
    # -- issue 14 metric-learning B: insert Specs above this line --
    Spec("dice_loss", "dice_loss", _seg_onehot),
    Spec(
        "dice_loss_class_map_weighted",
        "dice_loss",
        _with({"class_weights": np.array([0.0, 1.0, 2.0, 1.0, 0.5], np.float32)}, _seg_map),
    ),
    Spec("dice_loss_sigmoid", "dice_loss", _seg_multilabel),
    Spec("generalized_dice_loss", "generalized_dice_loss", _seg_map),
    Spec("tversky_loss", "tversky_loss", _with({"alpha": 0.3, "beta": 0.7}, _seg_onehot)),
    Spec(
        "focal_tversky_loss",
        "focal_tversky_loss",
        _with({"alpha": 0.3, "beta": 0.7, "smooth": 0.5}, _seg_map),
    ),
    Spec("lovasz_hinge_loss", "lovasz_hinge_loss", _lovasz_binary, smooth=False),
    Spec("lovasz_softmax_loss", "lovasz_softmax_loss", _seg_map, smooth=False),
    Spec(
        "lovasz_softmax_loss_all",
        "lovasz_softmax_loss",
        _with({"classes": "all"}, _seg_map),
        smooth=False,
    ),
    # -- issue 14 segmentation: insert Specs above this line --
    Spec("box_iou_loss", "box_iou_loss", _box_iou("giou"), diff_args=(0, 1)),
    Spec("box_iou_loss_iou", "box_iou_loss", _box_iou("iou"), diff_args=(0, 1)),
    Spec("box_iou_loss_diou", "box_iou_loss", _box_iou("diou"), diff_args=(0, 1)),
    Spec("box_iou_loss_ciou", "box_iou_loss", _box_iou("ciou"), diff_args=(0, 1)),
    Spec("ctc_loss", "ctc_loss", _ctc),
    # -- issue 14 detection+ctc: insert Specs above this line --
]


def slice_args(args, in_axes, b):
    return tuple(a if ax is None else a[b] for a, ax in zip(args, in_axes, strict=True))


def merge_args(args, in_axes):
    """Folds the leading slice axis into the example axis."""
    return tuple(
        a if ax is None else a.reshape((-1, *a.shape[2:]))
        for a, ax in zip(args, in_axes, strict=True)
    )


def as_jnp(args):
    return tuple(jnp.asarray(a) for a in args)
