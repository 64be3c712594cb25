"""The registry (``lossjax.get``, ``available``, ``info``) and ``lossjax.suggest``.

Each loss declares its metadata once, next to its definition
(``lossjax._registry.register``): the decorated loss checks its hyperparameters
against that declaration, and the registry reads the same declaration. These
tests check what users see: every entry is a public function, its
hyperparameters are its keyword-only options with the signature's defaults, the
loss, ``get`` and the declaration accept and refuse the same values, and
``suggest`` ranks the recommendations the losses declare.
"""

import dataclasses
import functools
import inspect

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from losses_catalogue import CATALOGUE, K, as_jnp, slice_args

import lossjax

CONTRACT = ("reduction", "weights", "where", "axis_name")
NAMES = lossjax.available()


def _first_call(spec, seed=0):
    args, in_axes, kwargs = spec.make(np.random.default_rng(seed))
    return slice_args(as_jnp(args), in_axes, 0), kwargs


# -- every entry is a public function whose metadata matches its signature -------------------


@pytest.mark.parametrize("name", NAMES)
def test_entry_is_a_public_function(name):
    entry = lossjax.info(name)
    assert isinstance(entry, lossjax.LossInfo)
    assert entry.name == name
    # "ranking.softmax_loss" is lossjax.ranking.softmax_loss
    namespace, _, short = name.rpartition(".")
    module = getattr(lossjax, namespace) if namespace else lossjax
    assert short in module.__all__
    assert getattr(module, short) is entry.function


def test_every_public_loss_is_registered_and_in_the_test_catalogue():
    """The registry lists every public loss, and tests/losses_catalogue.py (which
    drives the transformation, sharding and registry suites) holds every one."""
    assert len(set(NAMES)) == len(NAMES)
    public_losses = {
        name
        for name in lossjax.__all__
        if name != "reduce_loss"  # the reduction itself, not a loss
        and callable(getattr(lossjax, name))
        and not inspect.isclass(getattr(lossjax, name))
        and set(CONTRACT) <= set(inspect.signature(getattr(lossjax, name)).parameters)
    }
    # The ranking submodule's losses (its metrics and lambda weights are not losses).
    public_losses |= {
        f"ranking.{name}" for name in lossjax.ranking.__all__ if name.endswith("_loss")
    }
    assert public_losses == set(NAMES)
    catalogued = {spec.fn_name for spec in CATALOGUE}
    missing = set(NAMES) - catalogued
    assert not missing, f"add {sorted(missing)} to tests/losses_catalogue.py"
    assert catalogued <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_hyperparameters_are_the_signatures_keyword_options_with_its_defaults(name):
    entry = lossjax.info(name)
    parameters = inspect.signature(entry.function).parameters
    # normalize_by/segment_ids of the token-level losses are reduction arguments.
    passed_on = ("normalize_by", "segment_ids")
    keyword_only = {
        p.name: p.default
        for p in parameters.values()
        if p.kind is inspect.Parameter.KEYWORD_ONLY and p.name not in CONTRACT + passed_on
    }
    assert {h.name: h.default for h in entry.hyperparameters} == keyword_only
    assert entry.defaults == keyword_only
    for arg in CONTRACT:
        assert parameters[arg].kind is inspect.Parameter.KEYWORD_ONLY
    assert parameters["reduction"].default == "mean"


@pytest.mark.parametrize("name", NAMES)
def test_metadata_is_well_formed(name):
    entry = lossjax.info(name)
    assert entry.task in lossjax._registry.TASKS
    assert entry.input_kind in lossjax._registry.INPUT_KINDS
    assert entry.summary and "\n" not in entry.summary and len(entry.summary) <= 100
    for h in entry.hyperparameters:
        assert h.kind in ("real", "int", "bool", "choice", "mask", "axes", "callable")
        assert h.valid and h.description
        h.check(h.default)  # every default is a valid value
    with pytest.raises(dataclasses.FrozenInstanceError):
        entry.task = "regression"


def test_metadata_flags_follow_the_usual_guidance():
    robust = {n for n in NAMES if lossjax.info(n).robust_to_outliers}
    assert robust == {
        "mean_absolute_error",
        "huber_loss",
        "log_cosh_loss",
        "smooth_l1_loss",
        "quantile_loss",
    }
    calibrated = {n for n in NAMES if lossjax.info(n).calibrated_probabilities}
    assert {"binary_cross_entropy", "categorical_cross_entropy"} <= calibrated
    assert not {"hinge_loss", "focal_loss", "categorical_focal_loss"} & calibrated
    assert lossjax.info("hinge").margin_based and not lossjax.info("bce").margin_based
    assert [n for n in NAMES if lossjax.info(n).large_vocab] == ["linear_cross_entropy"]
    assert lossjax.info("bce").input_kind == "logits"  # from_logits=True by default
    assert lossjax.info("kmeans").input_kind == "points"
    assert lossjax.info("infonce").input_kind == "embeddings"


OUT_OF_RANGE = (ValueError,)
WRONG_KIND = (TypeError, ValueError)


def _rejected(h):
    """(value, errors) the declared range rejects: just past each bound (a
    ValueError), None unless the hyperparameter is optional, and values of the
    wrong kind (a TypeError or a ValueError)."""
    bad = []
    if h.kind in ("real", "int"):
        if h.lower is not None:
            bad.append((h.lower if h.lower_open else h.lower - 0.5, OUT_OF_RANGE))
        if h.upper is not None:
            bad.append((h.upper if h.upper_open else h.upper + 0.5, OUT_OF_RANGE))
        if h.kind == "int":
            bad = [(int(np.floor(v)), e) for v, e in bad] + [(1.5, WRONG_KIND), (True, WRONG_KIND)]
        elif h.name != "class_weights":
            bad.append(("0.5", WRONG_KIND))  # a string is not a number
    elif h.kind in ("bool", "mask"):
        bad.append((1, WRONG_KIND))  # truthy, but not a bool
    elif h.kind == "axes":
        bad += [(1.5, WRONG_KIND), (True, WRONG_KIND), ((-1, 0.5), WRONG_KIND)]
    elif h.kind == "choice":
        bad.append((f"not-{h.choices[0]}", OUT_OF_RANGE))
    if not h.optional:
        bad.append((None, WRONG_KIND))
    return bad


def _accepted(h):
    """Values the declared range accepts: the default, the closed bounds, every
    choice, and None if optional."""
    good = [h.default]
    if h.kind in ("real", "int"):
        for bound, is_open in ((h.lower, h.lower_open), (h.upper, h.upper_open)):
            if bound is not None and not is_open:
                good.append(int(bound) if h.kind == "int" else bound)
    elif h.kind in ("bool", "mask"):
        good += [True, False]
    elif h.kind == "choice":
        good += list(h.choices)
    if h.optional:
        good.append(None)
    return good


def _per_class(h, value):
    """class_weights is a [K] array: one entry at ``value``, the others valid."""
    if h.name == "class_weights" and value is not None:
        return np.array([value] + [1.0] * (K - 1))
    return value


DECLARED = [
    (spec, h)
    for spec in CATALOGUE
    for h in lossjax.info(spec.fn).hyperparameters
    if h.kind != "any"
]


@pytest.mark.parametrize("spec, h", DECLARED, ids=[f"{s.name}-{h.name}" for s, h in DECLARED])
def test_the_loss_enforces_exactly_the_declared_range(spec, h):
    """What the registry declares is what the loss does: a value just outside the
    declared range (or not among the choices) is a ValueError naming the
    hyperparameter from the declaration, from lossjax.get and from the loss
    itself; every value the declaration accepts is accepted by all three."""
    args, kwargs = _first_call(spec)
    for value, errors in _rejected(h):
        if errors is not OUT_OF_RANGE:
            continue
        value = _per_class(h, value)
        for reject in (
            h.check,
            lambda v: lossjax.get(spec.fn, **{h.name: v}),
            lambda v: spec.fn(*args, **{**kwargs, h.name: v}),
        ):
            with pytest.raises(ValueError, match=f"`{h.name}`"):
                reject(value)
    for value in _accepted(h):
        value = _per_class(h, value)
        h.check(value)
        lossjax.get(spec.fn, **{h.name: value})
        if h.kind in ("real", "int"):  # (a bool or a choice may not suit these inputs)
            assert np.isfinite(spec.fn(*args, **{**kwargs, h.name: value})), (h.name, value)


@pytest.mark.parametrize("spec, h", DECLARED, ids=[f"{s.name}-{h.name}" for s, h in DECLARED])
def test_get_rejects_a_value_of_the_wrong_kind_naming_the_hyperparameter(spec, h):
    """None for a required hyperparameter, a string for a number, 1 for a bool,
    1.5 or True for an int: lossjax.get fails before any array is seen."""
    for value, errors in _rejected(h):
        if errors is not WRONG_KIND:
            continue
        with pytest.raises(errors, match=f"`{h.name}`"):
            lossjax.get(spec.fn, **{h.name: _per_class(h, value)})


@pytest.mark.parametrize("spec", CATALOGUE, ids=lambda s: s.name)
def test_the_reduction_is_checked_at_get_and_at_call(spec):
    args, kwargs = _first_call(spec)
    with pytest.raises(ValueError, match="`reduction`"):
        lossjax.get(spec.fn, reduction="average")
    with pytest.raises(ValueError, match="`reduction`"):
        spec.fn(*args, **kwargs, reduction="average")


def test_looking_up_an_undeclared_hyperparameter_is_a_key_error():
    assert lossjax.info("focal_loss").hyperparameter("gamma").name == "gamma"
    with pytest.raises(KeyError, match="delta"):
        lossjax.info("focal_loss").hyperparameter("delta")


# -- names and aliases -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "alias, name",
    [
        ("mse", "mean_squared_error"),
        ("mae", "mean_absolute_error"),
        ("huber", "huber_loss"),
        ("logcosh", "log_cosh_loss"),
        ("bce", "binary_cross_entropy"),
        ("hinge", "hinge_loss"),
        ("focal", "focal_loss"),
        ("cce", "categorical_cross_entropy"),
        ("sparse_cce", "sparse_categorical_cross_entropy"),
        ("scce", "sparse_categorical_cross_entropy"),
        ("categorical_focal", "categorical_focal_loss"),
        ("kl", "kl_divergence"),
        ("kmeans", "kmeans_loss"),
        ("reconstruction", "reconstruction_loss"),
        ("contrastive", "contrastive_loss"),
        ("infonce", "info_nce_loss"),
        ("ntxent", "ntxent_loss"),
        ("NT-Xent", "ntxent_loss"),
        ("fused_ce", "linear_cross_entropy"),
        ("Sparse CCE", "sparse_categorical_cross_entropy"),
        ("huber_loss", "huber_loss"),
    ],
)
def test_alias_resolves(alias, name):
    assert lossjax.info(alias).name == name
    assert lossjax.get(alias).func is getattr(lossjax, name)


def test_penalty_names_are_not_error_losses_and_clip_is_the_symmetric_loss():
    """``l1``/``l2`` name the penalties (lossjax.l1_penalty), not MAE/MSE; CLIP's loss
    is the symmetric InfoNCE."""
    for penalty in ("l1", "l2"):
        with pytest.raises(KeyError, match=f"unknown loss '{penalty}'"):
            lossjax.get(penalty)
    clip = lossjax.get("clip")
    assert clip.func is lossjax.info_nce_loss and clip.keywords == {"symmetric": True}
    assert lossjax.get("clip", temperature=0.2).keywords == {"symmetric": True, "temperature": 0.2}
    assert lossjax.get("ntxent").func is lossjax.ntxent_loss
    q, k = jnp.eye(3), jnp.eye(3)[::-1]
    np.testing.assert_allclose(clip(q, k), lossjax.info_nce_loss(q, k, symmetric=True))


def test_a_declaration_must_match_the_signature():
    """A loss that declares a hyperparameter it does not take, or takes one it does
    not declare, fails when its module is imported, not in a test."""
    from lossjax import _registry

    def loss(x, *, delta=1.0, reduction="mean", weights=None, where=None, axis_name=None):
        return x

    for declared in ((), (_registry.real("delta", "d"), _registry.real("beta", "b"))):
        with pytest.raises(TypeError, match="declares"):
            _registry.register(
                task="regression", input_kind="predictions", summary="s", hyperparameters=declared
            )(loss)


def test_aliases_are_unique_and_listed():
    seen = {}
    for name in NAMES:
        for alias in lossjax.info(name).aliases:
            assert alias not in seen, f"{alias} is an alias of {seen.get(alias)} and {name}"
            assert alias not in NAMES
            seen[alias] = name


def test_info_accepts_the_function_itself():
    assert lossjax.info(lossjax.focal_loss).name == "focal_loss"
    assert lossjax.info(lossjax.get("focal")).name == "focal_loss"


def test_available_filters_by_task():
    by_task = {t: lossjax.available(t) for t in lossjax._registry.TASKS}
    assert sorted(n for names in by_task.values() for n in names) == sorted(NAMES)
    assert by_task["regression"][0] == "mean_squared_error"
    assert set(by_task["binary"]) == {
        "binary_cross_entropy",
        "focal_loss",
        "hinge_loss",
        "squared_hinge_loss",
        "perceptron_loss",
        "sparsemax_loss",
    }
    assert "linear_cross_entropy" in by_task["multiclass"]
    assert by_task["embedding"][0] == "info_nce_loss"
    assert {"batch_triplet_loss", "ntxent_loss", "margin_softmax_loss"} <= set(by_task["embedding"])
    assert by_task["segmentation"][0] == "dice_loss"
    assert by_task["detection"] == ["box_iou_loss"]
    assert by_task["sequence"] == ["ctc_loss"]
    assert by_task["ranking"][0] == "ranking.softmax_loss"
    assert by_task["distillation"] == ["distillation_loss"]
    assert by_task["preference"] == ["dpo_loss", "simpo_loss", "orpo_loss"]
    assert by_task["generative"][0] == "diffusion_loss"
    with pytest.raises(ValueError, match="task"):
        lossjax.available("telepathy")


@pytest.mark.parametrize(
    "typo, expected",
    [
        ("hubr", "'huber'"),
        ("binary_crossentropy", "'binary_cross_entropy'"),
        ("focall", "'focal'"),
        ("mean_squared_eror", "'mean_squared_error'"),
        ("infoNCE_los", "'info_nce_loss'"),
    ],
)
def test_unknown_name_suggests_the_closest_names(typo, expected):
    with pytest.raises(KeyError) as info:
        lossjax.get(typo)
    message = str(info.value)
    assert typo in message and "Did you mean" in message and expected in message
    assert "mean_squared_error" in message  # and lists what exists
    with pytest.raises(ValueError, match="Did you mean"):  # also a ValueError
        lossjax.info(typo)


def test_unknown_name_without_close_match_lists_the_losses():
    with pytest.raises(KeyError, match=r"unknown loss 'zzzz'.*Available: mean_squared_error"):
        lossjax.get("zzzz")


def test_name_must_be_a_string_or_a_loss():
    with pytest.raises(TypeError, match="string"):
        lossjax.get(3)
    with pytest.raises(KeyError, match="not a registered loss"):
        lossjax.get(print)


# -- get: binding and checking ----------------------------------------------------------------


@pytest.mark.parametrize("spec", CATALOGUE, ids=lambda s: s.name)
def test_bound_loss_equals_the_direct_call(spec):
    args, kwargs = _first_call(spec)
    loss = lossjax.get(spec.fn, **kwargs)
    direct = spec.fn(*args, **kwargs)
    np.testing.assert_array_equal(loss(*args), direct)
    np.testing.assert_allclose(jax.jit(loss)(*args), direct, rtol=1e-6)  # XLA fusion: ulps
    np.testing.assert_array_equal(
        loss(*args, reduction="none"), spec.fn(*args, **kwargs, reduction="none")
    )


def test_bound_loss_keeps_name_doc_signature_and_a_readable_repr():
    """A bound loss is a functools.partial with the loss's metadata."""
    loss = lossjax.get("huber", delta=0.5)
    assert isinstance(loss, functools.partial) and loss.keywords == {"delta": 0.5}
    assert repr(loss) == "lossjax.get('huber_loss', delta=0.5)"
    assert repr(lossjax.get("mse")) == "lossjax.get('mean_squared_error')"
    assert loss.__name__ == "huber_loss"
    assert loss.__doc__ == lossjax.huber_loss.__doc__
    assert inspect.signature(loss).parameters["delta"].default == 0.5
    assert loss.info is lossjax.info("huber_loss")
    assert dict(loss.hyperparameters) == {"delta": 0.5}
    with pytest.raises(TypeError, match="does not support item assignment"):
        loss.hyperparameters["delta"] = 2.0  # read-only


def test_bound_hyperparameters_act_and_call_time_keywords_override():
    p, t = jnp.array([0.0, 3.0]), jnp.zeros(2)
    np.testing.assert_allclose(lossjax.get("huber", delta=0.5)(p, t), (0 + 0.5 * 2.75) / 2)
    np.testing.assert_allclose(lossjax.get("huber")(p, t), (0 + 2.5) / 2)
    np.testing.assert_allclose(lossjax.get("huber", delta=0.5)(p, t, delta=1.0), 1.25)
    np.testing.assert_allclose(lossjax.get("huber", reduction="sum")(p, t), 2.5)


def test_traced_hyperparameters_pass_through_the_eager_checks():
    """A sweep over delta is one jax.vmap, with the loss built inside it."""
    p, t = jnp.array([0.0, 3.0]), jnp.zeros(2)
    deltas = jnp.array([0.5, 1.0, 2.0])
    swept = jax.vmap(lambda d: lossjax.get("huber", delta=d)(p, t))(deltas)
    expected = [lossjax.huber_loss(p, t, delta=float(d)) for d in deltas]
    np.testing.assert_allclose(swept, expected, rtol=1e-6)
    grad = jax.grad(lambda g: lossjax.get("focal", gamma=g)(jnp.array([0.3]), jnp.array([1.0])))
    assert np.isfinite(grad(2.0))


def test_unknown_hyperparameter_is_a_type_error_listing_the_valid_ones():
    with pytest.raises(TypeError, match=r"'delt'.*Did you mean 'delta'.*Valid keywords: delta"):
        lossjax.get("huber", delt=1.0)
    with pytest.raises(TypeError, match=r"'gamma'.*Valid keywords: reduction"):
        lossjax.get("mse", gamma=2.0)


# -- suggest --------------------------------------------------------------------------------------


def _names(suggestions):
    return [s.name for s in suggestions]


def test_suggest_regression_default_is_mse():
    assert _names(lossjax.suggest("regression"))[0] == "mean_squared_error"


def test_suggest_regression_with_outliers_puts_huber_and_mae_first_and_mse_last():
    names = _names(lossjax.suggest("regression", outliers=True))
    assert set(names[:2]) == {"huber_loss", "mean_absolute_error"}
    assert names[-1] == "mean_squared_error"


def test_suggest_binary_default_is_cross_entropy():
    first = lossjax.suggest("binary")[0]
    assert (first.name, first.hyperparameters) == ("binary_cross_entropy", {})


def test_suggest_binary_imbalanced_gives_weighted_cross_entropy_and_focal():
    top = lossjax.suggest("binary", imbalanced=0.05)[:2]
    assert {s.name for s in top} == {"binary_cross_entropy", "focal_loss"}
    weighted = next(s for s in top if s.name == "binary_cross_entropy")
    assert weighted.hyperparameters == {"pos_weight": 19.0}
    assert weighted.requires == ()
    focal = next(s for s in top if s.name == "focal_loss")
    assert focal.hyperparameters["gamma"] == 2.0 and focal.hyperparameters["alpha"] > 0.5
    # Without the rate, pos_weight is left to the user, who is told how to set it.
    weighted = lossjax.suggest("binary", imbalanced=True)[0]
    assert weighted.requires == ("pos_weight",) and "n_negative / n_positive" in weighted.reason
    with pytest.raises(TypeError, match="pos_weight"):
        weighted.get()
    assert weighted.get(pos_weight=9.0).hyperparameters["pos_weight"] == 9.0
    assert weighted.call == "binary_cross_entropy(pos_weight=...)"
    assert str(weighted) == weighted.call + ": " + weighted.reason


def test_suggest_calibrated_prefers_cross_entropy_to_hinge():
    names = _names(lossjax.suggest("binary", calibrated=True))
    assert names[0] == "binary_cross_entropy"
    # The margin losses (hinge and its relatives) give uncalibrated scores: all rank last.
    margin = [n for n in names if lossjax.info(n).margin_based]
    assert "hinge_loss" in margin and names[-len(margin) :] == margin
    # Calibration outranks imbalance: plain cross-entropy (tune the threshold) first.
    first = lossjax.suggest("binary", imbalanced=True, calibrated=True)[0]
    assert (first.name, first.hyperparameters, first.requires) == ("binary_cross_entropy", {}, ())
    assert "calibrated" in first.reason


def test_suggest_multiclass():
    assert _names(lossjax.suggest("multiclass"))[0] == "sparse_categorical_cross_entropy"
    assert _names(lossjax.suggest("multiclass", large_vocab=True))[0] == "linear_cross_entropy"
    top = lossjax.suggest("multiclass", imbalanced=True)[:2]
    assert {s.name for s in top} == {"sparse_categorical_cross_entropy", "categorical_focal_loss"}
    assert next(s for s in top if s.requires).requires == ("class_weights",)


@pytest.mark.parametrize(
    "task", ["regression", "binary", "multiclass", "unsupervised", "embedding"]
)
def test_every_suggestion_is_a_loss_of_the_task_that_binds(task):
    flags = {
        "regression": {"outliers": True},
        "binary": {"imbalanced": 0.1, "calibrated": True},
        "multiclass": {"imbalanced": True, "large_vocab": True},
        "unsupervised": {"outliers": True},
        "embedding": {},
    }[task]
    for suggestions in (lossjax.suggest(task), lossjax.suggest(task, **flags)):
        assert isinstance(suggestions[0], lossjax.Suggestion)
        assert {s.name for s in suggestions} == set(lossjax.available(task))
        for s in suggestions:
            assert s.reason and "\n" not in s.reason
            bound = s.get(
                **{k: np.ones(3, np.float32) if k == "class_weights" else 2.0 for k in s.requires}
            )
            assert bound.info.name == s.name


def test_suggest_refuses_flags_that_do_not_apply():
    with pytest.raises(ValueError, match="imbalanced"):
        lossjax.suggest("regression", imbalanced=True)
    with pytest.raises(ValueError, match="large_vocab"):
        lossjax.suggest("binary", large_vocab=True)
    with pytest.raises(ValueError, match="outliers"):
        lossjax.suggest("multiclass", outliers=True)
    with pytest.raises(ValueError, match="task"):
        lossjax.suggest("telepathy")
    with pytest.raises(ValueError, match="imbalanced"):
        lossjax.suggest("binary", imbalanced=1.5)


@pytest.mark.parametrize("value", [-1, 1, "yes", None])
def test_suggest_flags_must_be_bools(value):
    """``outliers=-1`` is a mistake, not a truthy flag."""
    with pytest.raises(TypeError, match="`outliers` must be a Python bool"):
        lossjax.suggest("regression", outliers=value)


def test_printing_a_suggestion_shows_the_call_and_the_reason():
    best = lossjax.suggest("regression", outliers=True)[0]
    assert best.call == "huber_loss(delta=1.0)"
    assert str(best) == f"huber_loss(delta=1.0): {best.reason}" and "robust" in best.reason


# -- suggest: probabilistic regression and margin questions -------------------------------------


@pytest.mark.parametrize(
    "flag, expected, question",
    [
        ("count_data", [("poisson_loss", {"log_input": True})], "count"),
        ("heteroscedastic", [("gaussian_nll_loss", {})], "heteroscedastic"),
        ("intervals", [("quantile_loss", {"quantile": [0.1, 0.5, 0.9]})], "interval"),
        (
            "skewed_positive",
            [("mean_squared_logarithmic_error", {}), ("tweedie_deviance", {"power": 2.0})],
            "skewed",
        ),
    ],
)
def test_suggest_regression_questions_put_their_answer_first(flag, expected, question):
    suggestions = lossjax.suggest("regression", **{flag: True})
    top = [(s.name, s.hyperparameters) for s in suggestions[: len(expected)]]
    assert top == expected
    assert question in suggestions[0].reason
    # Every loss is still listed, and every suggestion binds.
    assert {s.name for s in suggestions} == set(lossjax.available("regression"))
    for s in suggestions:
        assert s.reason and "\n" not in s.reason
        assert s.get().info.name == s.name


def test_suggest_count_data_gives_poisson_then_tweedie_power_1():
    names = [s.call for s in lossjax.suggest("regression", count_data=True)][:2]
    assert names == ["poisson_loss(log_input=True)", "tweedie_deviance(power=1.0)"]
    # The likelihood of counts stays first even with outliers.
    assert _names(lossjax.suggest("regression", count_data=True, outliers=True))[0] == (
        "poisson_loss"
    )


def test_suggest_heteroscedastic_says_the_model_predicts_a_variance():
    first = lossjax.suggest("regression", heteroscedastic=True)[0]
    assert first.name == "gaussian_nll_loss" and "variance" in first.reason
    # The variance is a call argument predicted per example, not a hyperparameter to bind.
    assert first.requires == () and "variances" in first.reason
    assert first.get().info.name == "gaussian_nll_loss"


def test_suggest_intervals_fits_several_quantiles_at_once():
    import jax.numpy as jnp

    first = lossjax.suggest("regression", intervals=True)[0]
    assert "0.1, 0.5, 0.9" in first.reason
    loss = first.get()
    predictions = jnp.broadcast_to(jnp.array([-1.0, 0.0, 1.0]), (4, 3))
    assert float(loss(predictions, jnp.zeros(4))) > 0.0
    # Without the question, the median (one level) as before.
    plain = next(s for s in lossjax.suggest("regression") if s.name == "quantile_loss")
    assert plain.hyperparameters == {"quantile": 0.5}


def test_suggest_skewed_positive_gives_msle_gamma_then_mape():
    suggestions = lossjax.suggest("regression", skewed_positive=True)
    assert [s.call for s in suggestions[:3]] == [
        "mean_squared_logarithmic_error()",
        "tweedie_deviance(power=2.0)",
        "mean_absolute_percentage_error()",
    ]
    assert "Gamma" in suggestions[1].reason and "relative error" in suggestions[2].reason


def test_suggest_binary_margin_puts_hinge_first_and_mentions_sparsemax():
    suggestions = lossjax.suggest("binary", margin=True)
    assert _names(suggestions)[:3] == ["hinge_loss", "squared_hinge_loss", "sparsemax_loss"]
    assert "margin" in suggestions[0].reason and "margin" in suggestions[1].reason
    assert "sparse probabilities" in suggestions[2].reason
    assert {s.name for s in suggestions} == set(lossjax.available("binary"))
    for s in suggestions:
        assert s.reason and "\n" not in s.reason
        assert s.get().info.name == s.name


def test_suggest_multiclass_margin_puts_multiclass_hinge_first():
    suggestions = lossjax.suggest("multiclass", margin=True)
    assert _names(suggestions)[0] == "multiclass_hinge_loss"
    assert "margin" in suggestions[0].reason
    sparsemax = next(s for s in suggestions if s.name == "multiclass_sparsemax_loss")
    assert "sparse probabilities" in sparsemax.reason
    assert _names(suggestions).index("multiclass_sparsemax_loss") < _names(suggestions).index(
        "sparse_categorical_cross_entropy"
    )
    # With imbalance, the class-weighted hinge first; the weights come from the data.
    first = lossjax.suggest("multiclass", margin=True, imbalanced=True)[0]
    assert (first.name, first.requires) == ("multiclass_hinge_loss", ("class_weights",))
    assert first.get(class_weights=np.ones(3, np.float32)).info.name == "multiclass_hinge_loss"
    assert {s.name for s in suggestions} == set(lossjax.available("multiclass"))


@pytest.mark.parametrize(
    "task, flag",
    [
        ("binary", "count_data"),
        ("multiclass", "heteroscedastic"),
        ("unsupervised", "intervals"),
        ("embedding", "skewed_positive"),
        ("regression", "margin"),
        ("unsupervised", "margin"),
        ("embedding", "margin"),
    ],
)
def test_suggest_refuses_the_new_flags_where_they_do_not_apply(task, flag):
    with pytest.raises(ValueError, match=f"`{flag}` does not apply to task '{task}'"):
        lossjax.suggest(task, **{flag: True})


@pytest.mark.parametrize("task", ["binary", "multiclass"])
def test_suggest_margin_and_calibrated_contradict(task):
    with pytest.raises(ValueError, match="`margin` and `calibrated` contradict"):
        lossjax.suggest(task, margin=True, calibrated=True)
    # Each alone is fine.
    assert lossjax.suggest(task, margin=True) and lossjax.suggest(task, calibrated=True)
