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


def test_an_open_models_objects_are_left_out_of_full_collections_and_freed_when_it_is_replaced(window, qtbot,
                                                                                                 tmp_path):
    import gc
    import weakref

    from tests.helpers import tiny_classifier

    assert gc.get_freeze_count() > 0  # the window's and the model's objects: no longer scanned
    assert window.open_model(str(tiny_classifier(tmp_path / "a.onnx")))
    first = weakref.ref(window.session)

    class Holder:
        pass

    # Garbage in a cycle, there when a model finishes opening: frozen with that model's objects.
    from lenet_gui.core import memory

    holder = Holder()
    holder.me = holder
    kept = weakref.ref(holder)
    del holder
    memory.settle_objects()  # what the window does when a model is open
    gc.collect()
    assert kept() is not None  # frozen: a full collection does not look at it
    assert window.open_model(str(tiny_classifier(tmp_path / "b.onnx", size=32)))
    qtbot.wait(50)  # the old rows' deleteLater
    gc.collect()
    assert kept() is None  # opening another model let the garbage of the one before go
    assert first() is None


def test_a_slow_model_has_its_class_scores_session_opened_before_the_pen_asks(window, tmp_path, monkeypatch):
    from lenet_gui.core import session as session_module
    from tests.helpers import tiny_classifier

    assert window.session._class_session_thread is None  # LeNet-5 is quick: no second session
    monkeypatch.setattr(session_module, "SCORES_SESSION_ABOVE_S", -1.0)  # any model counts as slow
    assert window.open_model(str(tiny_classifier(tmp_path / "slow.onnx")))
    session = window.session
    assert session._class_session_thread is not None  # started when the model opened
    scores = session._scores_session(wait=True)
    assert scores is not session.session
