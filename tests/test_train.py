import pytest
import torch

from cnn_tutorial import experiments, models, train
from cnn_tutorial.data import Split


def test_digits_cnn_learns(trained_cnn, digits):
    assert trained_cnn.test_acc >= 0.97            # the book reports >= 98 %
    h = trained_cnn.history
    assert len(h.test_acc) == experiments.DIGITS_RECIPE.epochs
    assert h.train_loss[-1] < h.train_loss[0] / 5
    assert train.evaluate(trained_cnn.model, digits.test)[1] == h.test_acc[-1]


def test_training_is_deterministic(digits):
    small = Split(digits.train.x[:300], digits.train.y[:300])
    two = train.Recipe(epochs=2)
    runs = [train.fit(models.digits_cnn(seed=1), small, digits.test, two,
                      seed=1) for _ in range(2)]
    assert runs[0].test_loss == runs[1].test_loss
    other = train.fit(models.digits_cnn(seed=1), small, digits.test, two,
                      seed=2)
    assert other.test_loss != runs[0].test_loss


def test_measuring_only_the_last_epoch_trains_the_same_weights(digits):
    """every_epoch=False skips the per-epoch measurements, nothing else:
    the same weights and the same final numbers, one value per list."""
    small = Split(digits.train.x[:300], digits.train.y[:300])
    three = train.Recipe(epochs=3)
    models_ = [models.digits_cnn(seed=1) for _ in range(2)]
    full = train.fit(models_[0], small, digits.test, three, seed=1)
    last = train.fit(models_[1], small, digits.test, three, seed=1,
                     every_epoch=False)
    assert len(full.test_acc) == 3 and len(last.test_acc) == 1
    for key in ("train_loss", "train_acc", "test_loss", "test_acc"):
        assert getattr(last, key) == getattr(full, key)[-1:], key
    for (name, a), b in zip(models_[0].state_dict().items(),
                            models_[1].state_dict().values()):
        assert torch.equal(a, b), name
    with pytest.raises(ValueError, match="keep_best needs every epoch"):
        train.fit(models.digits_cnn(seed=1), small, digits.test, three,
                  keep_best=True, every_epoch=False)


@pytest.mark.slow
def test_the_numbers_do_not_depend_on_the_machines_thread_count(digits):
    """Seed 0's digits CNN, trained in a process whose PyTorch was set to 1
    thread and then to 4 (a one- and a four-core machine's defaults), ends
    with the same weights: set_seed, which fit calls, fixes the thread
    count (train.THREADS)."""
    weights = []
    for threads in (1, 4):
        torch.set_num_threads(threads)
        model = experiments.train_digits_cnn(digits, seed=0,
                                             every_epoch=False).model
        weights.append(model.state_dict())
    for name, value in weights[0].items():
        assert torch.equal(value, weights[1][name]), name
    assert torch.get_num_threads() == train.THREADS

def test_misclassified_matches_accuracy(trained_cnn, digits):
    wrong, predicted = train.misclassified(trained_cnn.model, digits.test)
    assert len(wrong) == round((1 - trained_cnn.test_acc) * len(digits.test))
    assert (predicted != digits.test.y[wrong]).all()


def test_bad_recipes_and_data_are_refused(digits):
    with pytest.raises(ValueError, match="epochs"):
        train.Recipe(epochs=0)
    with pytest.raises(ValueError, match="optimizer"):
        train.Recipe(optimizer="sgd")
    with pytest.raises(ValueError, match="schedule"):
        train.Recipe(schedule="step")
    with pytest.raises(ValueError, match="at least 8 steps"):
        train.Recipe(schedule="one-cycle").build(models.digits_cnn(), 4)
    model = models.digits_cnn()
    empty = Split(digits.train.x[:0], digits.train.y[:0])
    with pytest.raises(ValueError, match="empty"):
        train.fit(model, empty, digits.test)


def test_augment_is_applied(digits):
    seen, indices = [], []

    def augment(x, index):
        seen.append(x.shape[0])
        indices.extend(index.tolist())
        return x
    small = Split(digits.train.x[:100], digits.train.y[:100])
    train.fit(models.digits_cnn(), small, digits.test,
              train.Recipe(epochs=1, batch_size=40), augment=augment)
    assert seen == [40, 40, 20]
    assert sorted(indices) == list(range(100))    # each image's own index


def test_forgetting_eval_uses_batch_statistics(digits):
    model = models.digits_cnn(batch_norm=True, seed=0)
    train.fit(model, digits.train, digits.test, train.Recipe(epochs=2,
                                                             batch_size=128))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    in_eval = train.evaluate(model, digits.test)[1]
    whole = train.accuracy_in_train_mode(model, digits.test, len(digits.test))
    tiny = train.accuracy_in_train_mode(model, digits.test, 2)
    assert whole != in_eval or tiny != in_eval
    assert 0 <= tiny <= 1
    # the model itself is untouched: still in eval mode, same statistics
    assert not model.training
    assert all(torch.equal(v, model.state_dict()[k])
               for k, v in before.items())


def test_the_triangle_schedule_rises_then_falls_as_stated():
    model = torch.nn.Linear(2, 2)
    recipe = train.Recipe(lr=1.5, optimizer="sgd-nesterov",
                          schedule="triangle")
    optimizer, scheduler = recipe.build(model, 100)
    rates = []
    for _ in range(100):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert rates[0] == pytest.approx(0.2 * 1.5)
    assert max(rates) == pytest.approx(1.5, rel=0.02)
    assert rates.index(max(rates)) == 23
    assert rates[-1] == pytest.approx(1.5 * (0.07 + 0.93 / 77), rel=1e-6)


def test_biases_get_the_scaled_rate_and_divided_weight_decay():
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2))
    recipe = train.Recipe(lr=0.1, optimizer="sgd-nesterov",
                          weight_decay=1e-3, bias_lr_scale=64)
    optimizer, _ = recipe.build(model, 10)
    biases, others = optimizer.param_groups
    assert {id(p) for p in biases["params"]} == {
        id(model[0].bias), id(model[1].bias)}
    assert biases["lr"] == pytest.approx(6.4)
    assert biases["weight_decay"] == pytest.approx(1e-3 / 64)
    assert others["lr"] == 0.1 and others["weight_decay"] == 1e-3


def test_lookahead_ends_on_the_average_and_pulls_weights_back():
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1, bias=False)
    start = model.weight.detach().clone()
    average = train.Lookahead(model, total_steps=10, every=5)
    for step in range(1, 11):
        with torch.no_grad():
            model.weight.add_(1.0)           # an "optimiser step"
        average.step()
        if step == 5:
            # decay 0.95**5 * (5/10)**3: the weights move back toward start
            decay = 0.95 ** 5 * 0.5 ** 3
            expected = start + (1 - decay) * 5
            assert torch.allclose(model.weight, expected)
    # after the last step the weights are the average's
    assert torch.equal(model.weight, average.average[0])


def test_six_view_tta_averages_flips_and_one_pixel_shifts():
    class Probe(torch.nn.Module):
        """Logits = the top-left pixel: which view is which is visible."""
        def __init__(self):
            super().__init__()
            self.p = torch.nn.Parameter(torch.zeros(1))

        def forward(self, x):
            return x[:, :, 0, 0]

    x = torch.arange(16.0).reshape(1, 1, 4, 4)
    out = train.predict(Probe(), x, flip=True, shift=True)
    # views: x -> 0, flipped -> 3; up-left shift (reflect) -> x[1,1] = 5,
    # its flip -> x[1,2] = 6; down-right shift -> x[1,1] = 5, flip -> 6
    assert out.item() == pytest.approx(0.5 * (0 + 3) / 2
                                       + 0.25 * (5 + 6) / 2 * 2)
    with pytest.raises(ValueError, match="flip=True"):
        train.predict(Probe(), x, shift=True)


def test_bfloat16_forward_runs_convolutions_in_bf16_and_returns_float32():
    model = models.cifar_whitened_cnn(seed=0)
    seen = []
    model.features[0][0].register_forward_hook(
        lambda m, a, out: seen.append(out.dtype))
    x = torch.randn(2, 3, 32, 32)
    with train.bfloat16_forward(model):
        out = model(x)
        out.sum().backward()          # backward outside autocast works
    assert seen == [torch.bfloat16] and out.dtype == torch.float32
    assert model(x).dtype == torch.float32 and seen[-1] == torch.float32
    with train.bfloat16_forward(model, enabled=False):
        model(x)
    assert seen[-1] == torch.float32


@pytest.mark.slow
def test_the_fast_recipe_trains_the_whitened_network():
    """airbench's recipe with bfloat16 forward passes learns (an earlier
    version wrapped the backward pass in autocast too and diverged)."""
    from dataclasses import replace

    from cnn_tutorial.cifar.runs import RUNS, airbench

    torch.manual_seed(0)
    x = torch.randn(256, 3, 16, 16)
    y = (x[:, 0, :8].mean((1, 2)) > x[:, 0, 8:].mean((1, 2))).long()
    split = Split(x, y)
    model = RUNS["white"].training.build(0, x)
    history = train.fit(model, split, split,
                        replace(airbench(32, lookahead=True), epochs=5),
                        seed=0)
    assert history.train_loss[-1] < 0.8 * history.train_loss[0]
    assert history.test_acc[-1] > 0.8
