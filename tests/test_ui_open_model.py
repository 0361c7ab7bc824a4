"""Opening a slow model: the window keeps painting and the pen keeps drawing meanwhile."""

from PySide6.QtCore import QTimer

from tests.test_ui_controller import slow_loop_model


def test_the_window_stays_live_while_a_slow_model_opens(window, qtbot, tmp_path):
    # About a second per run here (two runs when opening: a blank input, then the drawing).
    path = slow_loop_model(tmp_path / "slow.onnx", trips=1_500_000)
    ticks = []
    timer = QTimer(window)
    timer.timeout.connect(lambda: ticks.append(window.actions.open_model.isEnabled()))
    timer.start(10)
    assert window.open_model(str(path))
    timer.stop()
    # The event loop ran while the model opened (a frozen window would give no tick at all),
    # and another model could not be opened meanwhile.
    assert len(ticks) >= 3 and not any(ticks)
    assert window.actions.open_model.isEnabled()
    assert window.session.path == path


def test_opening_a_model_while_another_opens_is_refused_with_a_message(window, qtbot, tmp_path):
    path = slow_loop_model(tmp_path / "slow.onnx", trips=1_500_000)
    answers = []
    QTimer.singleShot(20, lambda: answers.append(window.open_model(str(path))))
    assert window.open_model(str(path))
    assert answers == [False]
