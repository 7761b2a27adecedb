"""nn.Module and the containers: registration, traversal, state dicts, hooks, modes, dtypes."""

import copy

import numpy as np
import pytest

import chainrule
import chainrule.nn as nn

torch = pytest.importorskip("torch")


def _affine_class(m):
    """The same small layer written against chainrule or torch."""

    class Affine(m.nn.Module):
        def __init__(self, i, o):
            super().__init__()
            self.weight = m.nn.Parameter(m.ones(o, i))
            self.bias = m.nn.Parameter(m.zeros(o))
            self.register_buffer("steps", m.zeros((), dtype=m.int64))
            self.register_buffer("scratch", m.zeros(1), persistent=False)

        def forward(self, x):
            return x @ self.weight.T + self.bias

    return Affine


def _net(m):
    affine = _affine_class(m)
    inner = m.nn.Sequential(affine(3, 4), affine(4, 4))
    return m.nn.Sequential(affine(2, 3), inner, m.nn.ModuleList([affine(4, 1)]))


def test_names_and_state_dict_keys_match_torch():
    ours, theirs = _net(chainrule), _net(torch)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()]
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [n for n, _ in ours.named_children()] == [n for n, _ in theirs.named_children()]


def test_shared_parameter_is_listed_once():
    affine = _affine_class(chainrule)
    a = affine(2, 2)
    net = nn.Sequential(a, a)
    assert len(list(net.parameters())) == 2
    assert len(list(net.named_parameters(remove_duplicate=False))) == 4


def test_state_dict_tensors_share_memory_without_graph():
    net = _affine_class(chainrule)(2, 2)
    sd = net.state_dict()
    assert not sd["weight"].requires_grad
    with chainrule.no_grad():
        net.weight.fill_(3.0)
    assert sd["weight"].detach().numpy()[0, 0] == 3.0
    assert net.state_dict(keep_vars=True)["weight"] is net.weight


def test_load_state_dict_round_trip_and_report():
    a, b = _net(chainrule), _net(chainrule)
    with chainrule.no_grad():
        for p in a.parameters():
            p.normal_()
    result = b.load_state_dict(a.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert repr(result) == "<All keys matched successfully>"
    for (n, p), (_, q) in zip(a.named_parameters(), b.named_parameters()):
        np.testing.assert_array_equal(p.detach().numpy(), q.detach().numpy(), err_msg=n)


def test_load_state_dict_names_missing_unexpected_and_mismatched_keys():
    net = _affine_class(chainrule)(2, 3)
    bad = {"weight": chainrule.zeros(2, 2), "extra": chainrule.zeros(1)}
    with pytest.raises(RuntimeError) as e:
        net.load_state_dict(bad)
    text = str(e.value)
    assert 'Missing key(s) in state_dict: "bias", "steps"' in text
    assert 'Unexpected key(s) in state_dict: "extra"' in text
    assert "size mismatch for weight" in text and "[2, 2]" in text and "[3, 2]" in text


def test_non_strict_load_reports_but_shape_mismatch_still_fails():
    net = _affine_class(chainrule)(2, 3)
    result = net.load_state_dict(
        {"bias": chainrule.ones(3), "junk": chainrule.ones(1)}, strict=False
    )
    assert result.missing_keys == ["weight", "steps"]
    assert result.unexpected_keys == ["junk"]
    assert net.bias.detach().numpy().tolist() == [1.0, 1.0, 1.0]
    with pytest.raises(RuntimeError, match="size mismatch for bias"):
        net.load_state_dict({"bias": chainrule.ones(4)}, strict=False)


def test_load_state_dict_keeps_parameter_identity_and_converts_dtype():
    net = _affine_class(chainrule)(2, 2)
    w = net.weight
    net.load_state_dict({"weight": chainrule.full((2, 2), 2.0, dtype=chainrule.float64),
                         "bias": chainrule.zeros(2), "steps": chainrule.tensor(5)})  # fmt: skip
    assert net.weight is w and w.dtype == chainrule.float32
    assert w.detach().numpy()[0, 0] == 2.0 and net.steps.item() == 5


def test_load_state_dict_assign_takes_the_tensors():
    net = _affine_class(chainrule)(2, 2)
    new = chainrule.full((2, 2), 7.0)
    net.load_state_dict({"weight": new, "bias": chainrule.zeros(2), "steps": chainrule.tensor(0)},
                        assign=True)  # fmt: skip
    assert isinstance(net.weight, nn.Parameter) and net.weight.detach().numpy()[0, 0] == 7.0


def test_assignment_rules_match_torch():
    net = _affine_class(chainrule)(2, 2)
    with pytest.raises(TypeError, match="Parameter or None expected"):
        net.weight = chainrule.zeros(2, 2)
    net.bias = None
    assert net.bias is None and "bias" not in net.state_dict()
    net.steps = chainrule.ones(())
    assert net.state_dict()["steps"].item() == 1.0
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        _ = net.nope

    class Early(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(chainrule.zeros(1))

    with pytest.raises(AttributeError, match="super\\(\\).__init__\\(\\)"):
        Early()


def test_train_eval_propagate():
    net = _net(chainrule)
    net.eval()
    assert all(not m.training for m in net.modules())
    assert net.train() is net and all(m.training for m in net.modules())


def test_to_double_keeps_parameter_objects_and_integer_buffers():
    net = _affine_class(chainrule)(2, 2)
    w = net.weight
    net.double()
    assert net.weight is w and w.dtype == chainrule.float64
    assert net.steps.dtype == chainrule.int64
    net.to(chainrule.float32)
    assert w.dtype == chainrule.float32
    with pytest.raises(TypeError, match="floating point"):
        net.to(chainrule.int32)


def test_zero_grad_sets_none_or_zeros():
    net = _affine_class(chainrule)(2, 2)
    net(chainrule.ones(1, 2)).sum().backward()
    net.zero_grad(set_to_none=False)
    assert net.weight.grad is not None and not net.weight.grad.detach().numpy().any()
    net.zero_grad()
    assert net.weight.grad is None


def test_requires_grad_and_apply():
    net = _net(chainrule)
    net.requires_grad_(False)
    assert not any(p.requires_grad for p in net.parameters())
    seen = []
    net.apply(lambda m: seen.append(type(m).__name__))
    assert seen[-1] == "Sequential" and seen.count("Affine") == 4


def test_repr_matches_torch_layout():
    ours, theirs = _net(chainrule), _net(torch)
    assert repr(ours) == repr(theirs)


def test_forward_hooks_can_replace_args_and_output():
    net = _affine_class(chainrule)(2, 2)
    calls = []
    h1 = net.register_forward_pre_hook(lambda m, args: (args[0] * 2,))
    h2 = net.register_forward_hook(lambda m, args, out: calls.append(out.shape) or out + 1)
    out = net(chainrule.ones(1, 2))
    assert out.detach().numpy().tolist() == [[5.0, 5.0]] and calls == [(1, 2)]
    h1.remove()
    h2.remove()
    assert net(chainrule.ones(1, 2)).detach().numpy().tolist() == [[2.0, 2.0]]


def test_forward_hooks_with_kwargs():
    class Scale(nn.Module):
        def forward(self, x, factor=1.0):
            return x * factor

    m = Scale()
    m.register_forward_pre_hook(lambda mod, args, kwargs: (args, {"factor": 3.0}), with_kwargs=True)
    assert m(chainrule.ones(2)).detach().numpy().tolist() == [3.0, 3.0]


def _hooked_grads(m):
    net = _affine_class(m)(2, 3)
    with m.no_grad():
        net.weight.copy_(m.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]))
    seen = {}

    def hook(mod, grad_input, grad_output):
        seen["in"] = [g.detach().numpy().copy() for g in grad_input]
        seen["out"] = [g.detach().numpy().copy() for g in grad_output]
        return (grad_input[0] * 10,)

    def pre(mod, grad_output):
        seen["pre"] = grad_output[0].detach().numpy().copy()

    net.register_full_backward_hook(hook)
    net.register_full_backward_pre_hook(pre)
    x = m.tensor([[1.0, -1.0], [0.5, 2.0]], requires_grad=True)
    (net(x) ** 2).sum().backward()
    return seen, x.grad.detach().numpy()


def test_full_backward_hooks_match_torch():
    ours, ours_gx = _hooked_grads(chainrule)
    theirs, theirs_gx = _hooked_grads(torch)
    np.testing.assert_allclose(ours["pre"], theirs["pre"])
    for k in ("in", "out"):
        for a, b in zip(ours[k], theirs[k]):
            np.testing.assert_allclose(a, b)
    np.testing.assert_allclose(ours_gx, theirs_gx)


def test_full_backward_hook_without_input_grad_gets_none():
    net = _affine_class(chainrule)(2, 2)
    seen = []
    net.register_full_backward_hook(lambda m, gi, go: seen.append(gi))
    net(chainrule.ones(1, 2)).sum().backward()
    assert seen == [(None,)]


def test_sequential_indexing_slicing_and_editing():
    layers = [nn.Sequential() for _ in range(4)]
    s = nn.Sequential(*layers)
    assert s[1] is layers[1] and s[-1] is layers[3]
    assert isinstance(s[1:3], nn.Sequential) and len(s[1:3]) == 2
    del s[0]
    assert [n for n, _ in s.named_children()] == ["0", "1", "2"]
    s.append(nn.Sequential())
    s.insert(0, layers[0])
    assert s[0] is layers[0] and len(s) == 5
    with pytest.raises(IndexError, match="out of range"):
        s[9]


def test_sequential_runs_in_order():
    affine = _affine_class(chainrule)
    s = nn.Sequential(affine(2, 3), affine(3, 1))
    assert s(chainrule.ones(4, 2)).shape == (4, 1)


def test_module_dict_and_lists():
    affine = _affine_class(chainrule)
    d = nn.ModuleDict({"a": affine(1, 1), "b": affine(1, 2)})
    assert list(d.keys()) == ["a", "b"] and "a" in d and len(list(d.parameters())) == 4
    ml = nn.ModuleList([affine(1, 1)])
    ml += [affine(1, 1)]
    assert len(ml) == 2 and [n for n, _ in ml.named_parameters()][2] == "1.weight"
    pl = nn.ParameterList([chainrule.ones(2), nn.Parameter(chainrule.zeros(1))])
    assert all(isinstance(p, nn.Parameter) for p in pl) and len(pl) == 2
    pd = nn.ParameterDict({"w": chainrule.ones(2)})
    assert isinstance(pd["w"], nn.Parameter) and [n for n, _ in pd.named_parameters()] == ["w"]
    with pytest.raises(NotImplementedError, match="container"):
        ml(chainrule.ones(1))


def test_missing_forward_says_so():
    with pytest.raises(NotImplementedError, match='missing the required "forward"'):
        nn.Module()(chainrule.ones(1))


def test_deepcopy_gives_independent_parameters():
    net = _affine_class(chainrule)(2, 2)
    twin = copy.deepcopy(net)
    with chainrule.no_grad():
        twin.weight.fill_(0.0)
    assert net.weight.detach().numpy()[0, 0] == 1.0 and isinstance(twin.weight, nn.Parameter)


def test_get_submodule_parameter_buffer():
    net = _net(chainrule)
    assert net.get_submodule("1.0") is net[1][0]
    assert net.get_parameter("1.0.weight") is net[1][0].weight
    assert net.get_buffer("0.steps") is net[0].steps
    with pytest.raises(AttributeError):
        net.get_submodule("1.7")
