"""Elastic Weight Consolidation (EWC) as a loss hook, with online EWC.

EWC (Kirkpatrick et al. 2017) keeps a model close to the weights that solved earlier data, in
proportion to how much each weight mattered there (the diagonal Fisher information). Online EWC
(Schwarz et al. 2018, "Progress & Compress") folds every new Fisher into one decayed running sum, so
a year of daily updates carries one penalty instead of one per day.

The library does not own a training loop: a loop adds ``EWCPenalty(state, ewc_lambda)(model)`` to
its task loss before ``backward``. After a training window is accepted, the caller computes a new
Fisher at the accepted weights and calls :meth:`EWCState.consolidate`; the state is saved next to
the model version.

``fisher`` (the diagonal Fisher information of any network, cross-entropy or squared error),
``per_sample`` (its per-sample gradients: ``torch.func`` vmap, or one backward per sample where
vmap cannot batch the layers), ``penalty`` (the quadratic penalty), ``state``
(:class:`EWCState`, which travels with a model version, and the :class:`EWCPenalty` hook). The
registry stores the state; the update path trains with the hook.
"""

from __future__ import annotations

from online_learning.ewc.fisher import PerSampleLoss, compute_fisher_information
from online_learning.ewc.penalty import ewc_loss
from online_learning.ewc.state import EWCPenalty, EWCState

__all__ = ["EWCPenalty", "EWCState", "PerSampleLoss", "compute_fisher_information", "ewc_loss"]
