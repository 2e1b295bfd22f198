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
    seen = []

    def augment(x):
        seen.append(x.shape[0])
        return x
    small = Split(digits.train.x[:100], digits.train.y[:100])
    train.fit(models.digits_cnn(), small, digits.test,
              train.Recipe(epochs=1, batch_size=40), augment=augment)
    assert seen == [40, 40, 20]


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
