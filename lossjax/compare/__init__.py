"""Which loss for my problem? Train the same small model with each loss and compare.

Behind ``python -m lossjax compare``. Each task is a synthetic data set made for
one question, a small model, and the losses worth trying on it:

* ``"regression"``: a linear signal whose training targets include gross one-sided
  outliers; test MSE/MAE against the clean signal.
* ``"binary"``: two overlapping Gaussian classes at a chosen positive rate; the
  minority class's precision, recall and F1 at threshold 1/2 and the expected
  calibration error of the predicted probability.
* ``"multiclass"``: 4 classes of Gaussian blobs, an MLP; accuracy, macro
  precision/recall/F1 and the top-label calibration error.

Every loss trains through one loop (``jit(vmap(fori_loop(adam step)))`` over
seeds; only the loss closure differs) and is scored in float64 NumPy. Losses are
named by their function names. Each seed's data and initialisation are shared
by every loss, so losses are compared seed by seed: :meth:`TaskResult.best`
names every loss indistinguishable from the best (within the metric's tolerance,
or not significantly different by a paired t-test over the seeds), so a tie is
reported as a tie.

Example:
    >>> from lossjax import compare
    >>> result = compare.run(["regression"], quick=True, steps=5)  # doctest: +SKIP
    >>> result["regression"].best("mse")  # doctest: +SKIP
    ['mean_absolute_error', 'huber_loss(delta=1)', 'log_cosh_loss']
"""

from lossjax.compare._metrics import expected_calibration_error as expected_calibration_error
from lossjax.compare._metrics import indistinguishable as indistinguishable
from lossjax.compare._metrics import precision_recall_f1 as precision_recall_f1
from lossjax.compare._plot import check_plot_path as check_plot_path
from lossjax.compare._plot import matplotlib_available as matplotlib_available
from lossjax.compare._plot import save_plot as save_plot
from lossjax.compare._run import TASKS as TASKS
from lossjax.compare._run import Event as Event
from lossjax.compare._run import Result as Result
from lossjax.compare._run import TaskResult as TaskResult
from lossjax.compare._run import plan as plan
from lossjax.compare._run import run as run
from lossjax.compare._tasks import Case as Case
from lossjax.compare._tasks import Metric as Metric
from lossjax.compare._tasks import Task as Task

__all__ = [
    "TASKS",
    "Case",
    "Event",
    "Metric",
    "Result",
    "Task",
    "TaskResult",
    "check_plot_path",
    "expected_calibration_error",
    "indistinguishable",
    "matplotlib_available",
    "plan",
    "precision_recall_f1",
    "run",
    "save_plot",
]
