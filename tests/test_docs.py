"""Every public function is documented, and every docstring example runs as shown."""

import doctest
import inspect
import re

import pytest

import lossjax

PUBLIC = [getattr(lossjax, name) for name in lossjax.__all__ if callable(getattr(lossjax, name))]
PUBLIC += [getattr(lossjax.masks, name) for name in lossjax.masks.__all__]
PUBLIC += [getattr(lossjax.ranking, name) for name in lossjax.ranking.__all__]


def _required_sections(fn):
    """An example always; for a function, Args: when it takes arguments and
    Returns: (or Yields:, for a context manager) unless it returns None."""
    if inspect.isclass(fn):
        return [(">>>",)]
    signature = inspect.signature(fn)
    sections = [(">>>",)]
    if signature.parameters:
        sections.append(("Args:",))
    if signature.return_annotation not in (None, "None"):
        sections.append(("Returns:", "Yields:"))
    return sections


@pytest.mark.parametrize("fn", PUBLIC, ids=lambda f: f.__name__)
def test_public_function_has_a_complete_docstring(fn):
    doc = inspect.getdoc(fn) or ""
    assert doc, f"{fn.__name__} has no docstring"
    for alternatives in _required_sections(fn):
        assert any(s in doc for s in alternatives), (
            f"{fn.__name__} docstring lacks {' or '.join(map(repr, alternatives))}"
        )


_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


class _NumericOutputChecker(doctest.OutputChecker):
    """Exact text, except that numbers may differ in their last digits (rtol 1e-5).

    Float32 results can differ by an ulp between CPU and GPU builds of XLA; the
    printed example must still show what a user sees, to five digits.
    """

    def check_output(self, want, got, optionflags):
        if super().check_output(want, got, optionflags):
            return True

        def template(text):  # numbers replaced, then spacing (array padding) ignored
            return re.sub(r"\s+", "", _NUMBER.sub("#", text))

        if template(want) != template(got):
            return False
        pairs = zip(_NUMBER.findall(want), _NUMBER.findall(got), strict=True)
        return all(abs(float(w) - float(g)) <= 1e-5 * max(abs(float(w)), 1e-30) for w, g in pairs)


@pytest.mark.parametrize("fn", PUBLIC, ids=lambda f: f.__name__)
def test_docstring_examples_run_as_shown(fn):
    finder = doctest.DocTestFinder(recurse=False)
    runner = doctest.DocTestRunner(
        checker=_NumericOutputChecker(), optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS
    )
    for test in finder.find(fn, fn.__name__, globs={}):
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{fn.__name__}: {result.failed} docstring example(s) failed"
