"""Which module an aten call is credited to.

Forward: the innermost module whose forward is running in the capturing thread (a stack kept
by global forward hooks; other threads' modules are ignored). Backward: the module whose
forward created the autograd node being run. Every autograd node created in the forward takes
the thread's next sequence number (``torch._C._autograd._get_sequence_nr()`` is one past it
while the op that created it dispatches), so the forward records sequence number → module,
and the backward reads ``torch._C._current_autograd_node()._sequence_nr()``; a parameter's
``AccumulateGrad`` node is credited to the parameter's module. The engine sums the gradients
of a tensor used several times (a layer norm's output feeding q, k and v) while the node that
delivered the last one is current: those sums are credited to the module of the node that
receives them (the tensor's producer), found by replaying the engine's rule (a second arrival
at a node's input is added) in pre/post hooks on every node of the graph.

Threads the forward starts (captured: ``capture._start_counted``) have sequence counters of
their own, which overlap the capture thread's; their nodes are read off their calls' outputs
(autograd attaches a node to them once the call returns) and mapped by node instead.

Nothing here depends on set or dict iteration order, thread timing or hash seeds: the same
model gives the same breakdown in every run (``ModuleTracker``'s backward attribution did not).
"""

from __future__ import annotations

import itertools
import threading
from collections import deque

import torch

_NO_SEQ = 2**64 - 1   # AccumulateGrad nodes have no sequence number


class Attribution:
    """Module paths for one capture of `root` (paths relative to it: "" is the root)."""

    def __init__(self, root: torch.nn.Module, state: dict):
        self.names: dict = {}
        for n, m in root.named_modules(remove_duplicate=False):
            self.names.setdefault(m, n)
        # the parameter tensors the capture runs with -> their module's path
        self.param_paths = {id(t): n.rpartition(".")[0] for n, t in state.items()}
        self._params = list(state.values())   # keeps the ids above valid
        self._tls = threading.local()
        self._tokens = itertools.count()   # 0: the capture's thread
        self.created: dict = {}      # sequence nr -> module path (the capture's thread)
        self.node_paths: dict = {}   # autograd node -> module path (threads started in forward)
        # backward bookkeeping (one backward at a time per capture)
        self._received: set = set()
        self._pending: deque = deque()
        self._in_node = False
        self._handles: list = []
        self._own = set(self.names)   # the model's modules
        self.foreign: list = []       # paths of the model's modules run in threads not captured

    def name_modules(self, paths: dict, params: dict | None = None) -> None:
        """Name modules the root does not hold as torch children (Keras layers: {module: path}),
        and credit parameter tensors to module paths ({id(tensor): path})."""
        for mod, path in paths.items():
            self.names[mod] = path
            self._own.add(mod)
        self.param_paths.update(params or {})

    # -- threads: only those entered record module paths -------------------------------------

    def enter_thread(self, base: str = "") -> None:
        """Start tracking modules in the calling thread; ops outside any module are credited to
        `base` (the module that started the thread)."""
        self._tls.stack = []
        self._tls.base = base
        self._tls.token = next(self._tokens)

    def leave_thread(self) -> None:
        self._resolve()
        self._tls.stack = None

    def tracked(self) -> bool:
        return getattr(self._tls, "stack", None) is not None

    # -- forward ------------------------------------------------------------------------------

    def _name(self, mod) -> str:
        n = self.names.get(mod)
        if n is None:   # a module made during forward: named by its type, as ModuleTracker did
            n = self.names[mod] = type(mod).__name__
            for sub_name, sub in mod.named_modules(remove_duplicate=False):
                if sub_name:
                    self.names.setdefault(sub, f"{n}.{sub_name}")
        return n

    def pre_forward(self, mod, inputs) -> None:
        stack = getattr(self._tls, "stack", None)
        if stack is not None:
            stack.append((mod, self._name(mod)))
        elif mod in self._own and self.names[mod] not in self.foreign:
            self.foreign.append(self.names[mod])

    def post_forward(self, mod, inputs, output) -> None:
        stack = getattr(self._tls, "stack", None)
        if stack:
            stack.pop()

    def innermost(self):
        """The module whose forward runs innermost in this thread (None outside any)."""
        stack = getattr(self._tls, "stack", None)
        return stack[-1][0] if stack else None

    def current(self) -> str:
        """The module path to credit the aten call being dispatched in this thread with."""
        stack = getattr(self._tls, "stack", None)
        if stack:
            return stack[-1][1]
        node = torch._C._current_autograd_node()
        if node is not None:
            if not self._in_node and self._pending:   # the engine summing a gradient
                return self._pending.popleft()
            return self._node_path(node)
        return getattr(self._tls, "base", "")

    def created_by(self, op_name: str, out) -> None:
        """Called for every forward aten call. In the capture's thread: the autograd node it made
        (if any) has the sequence number one below the thread's counter; the first call to see
        it made it. In a thread the forward started (whose counter overlaps the first's): the
        node autograd attaches to the call's outputs once it returns, read at the next call."""
        if self._tls.token:
            self._resolve()
            self._tls.pending = (out, self.current())
            return
        seq = torch._C._autograd._get_sequence_nr() - 1
        if seq >= 0 and seq not in self.created:
            self.created[seq] = self.current()

    def _resolve(self) -> None:
        pending = getattr(self._tls, "pending", None)
        if pending is None:
            return
        self._tls.pending = None
        out, path = pending
        for t in out if isinstance(out, (list, tuple)) else (out,):
            gf = t.grad_fn if isinstance(t, torch.Tensor) else None
            if gf is not None and gf not in self.node_paths:
                self.node_paths[gf] = path

    def _node_path(self, node) -> str:
        if self.node_paths:
            path = self.node_paths.get(node)
            if path is not None:
                return path
        seq = node._sequence_nr()
        if seq == _NO_SEQ:
            var = getattr(node, "variable", None)
            return self.param_paths.get(id(var), "") if var is not None else ""
        path = self.created.get(seq)
        return getattr(self._tls, "base", "") if path is None else path

    # -- backward -----------------------------------------------------------------------------

    def watch_graph(self, roots) -> None:
        """Hook every autograd node reachable from `roots` (tensors) so that the gradient sums
        the engine does between nodes are credited to the node receiving them."""
        seen: set = set()
        todo = [t.grad_fn for t in roots if isinstance(t, torch.Tensor) and t.grad_fn is not None]
        while todo:
            node = todo.pop()
            if node in seen:
                continue
            seen.add(node)
            self._handles.append(node.register_prehook(self._node_starts))
            self._handles.append(node.register_hook(self._node_done(node)))
            for nxt, _ in node.next_functions:
                if nxt is not None and nxt not in seen:
                    todo.append(nxt)

    def _node_starts(self, grad_outputs):
        self._in_node = True
        self._pending.clear()

    def _node_done(self, node):
        def done(grad_inputs, grad_outputs):
            self._in_node = False
            for (nxt, nr), g in zip(node.next_functions, grad_inputs):
                if nxt is None or g is None:
                    continue
                if (nxt, nr) in self._received:
                    self._pending.append(self._node_path(nxt))
                else:
                    self._received.add((nxt, nr))
        return done

    def close(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles.clear()
        self.node_paths.clear()
        self._received.clear()
        self._pending.clear()
