"""Every public function is documented, and every docstring example runs as shown."""

import doctest
import inspect

import pytest

import lossjax

PUBLIC = [getattr(lossjax, name) for name in lossjax.__all__ if callable(getattr(lossjax, name))]
PUBLIC += [getattr(lossjax.masks, name) for name in lossjax.masks.__all__]


@pytest.mark.parametrize("fn", PUBLIC, ids=lambda f: f.__name__)
def test_public_function_has_a_complete_docstring(fn):
    doc = inspect.getdoc(fn) or ""
    assert doc, f"{fn.__name__} has no docstring"
    sections = (">>>",) if inspect.isclass(fn) else ("Args:", "Returns:", ">>>")
    for section in sections:
        assert section in doc, f"{fn.__name__} docstring lacks {section!r}"


@pytest.mark.parametrize("fn", PUBLIC, ids=lambda f: f.__name__)
def test_docstring_examples_run_as_shown(fn):
    finder = doctest.DocTestFinder(recurse=False)
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
    for test in finder.find(fn, fn.__name__, globs={}):
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{fn.__name__}: {result.failed} docstring example(s) failed"
