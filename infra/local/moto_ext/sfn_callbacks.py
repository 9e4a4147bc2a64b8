"""Step Functions callback tasks (`.waitForTaskToken`) behave as AWS's do.

moto's executing backend (moto/stepfunctions/parser) runs such a task and resumes it on
SendTaskSuccess, but differs from AWS where an installer's watcher would notice:

* SendTaskFailure drops `cause` (moto/stepfunctions/responses.py reads only `error`);
  AWS records both in TaskFailed and hands both to a Catch.
* A missed heartbeat (`HeartbeatSeconds`) fails the task with States.Timeout; AWS fails it
  with States.HeartbeatTimeout (a TaskTimedOut event with that error), which Retry and
  Catch can name.
* A Retry runs the task again with the same token; AWS gives every attempt a new token
  (`$$.Task.Token`), and the token of an earlier attempt is closed.
* A token whose task is closed (succeeded, failed, timed out, or its execution ended) is
  still accepted, or called invalid; AWS answers TaskTimedOut ("the task token has either
  expired or the task associated with the token has already been closed") and keeps
  InvalidToken for a token it never issued. A second SendTaskSuccess for one task is
  TaskTimedOut too.
* StopExecution leaves an execution whose task waits for a token RUNNING (until the task's
  TimeoutSeconds); AWS aborts it at once.
* SendTaskHeartbeat for a task without HeartbeatSeconds is InvalidToken; on AWS it is
  accepted (it only resets a clock nobody watches).
* SendTaskSuccess with output that is not JSON fails the task with States.Runtime; AWS
  refuses the call with InvalidOutput and the task keeps waiting.

The task's SQS message goes out through moto's own boto client at
http://localhost:$MOTO_PORT, which the launcher sets to this server's port.
"""

from __future__ import annotations

import functools
import json
import threading
from typing import Any

_NOTIFY_LOCK = threading.Lock()  # one outcome per task, even under concurrent calls


def _closed() -> Any:
    from moto.stepfunctions.parser.asl.eval.callback.callback import CallbackConsumerTimeout

    return CallbackConsumerTimeout()


def _is_wait_for_task_token(state: Any) -> bool:
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import ResourceCondition

    return getattr(getattr(state, "resource", None), "condition", None) == ResourceCondition.WaitForTaskToken


# ---------------------------------------------------------------- the task


def _token_per_attempt(evaluate_with_timeout: Any) -> Any:
    """Every attempt of a callback task gets its own token; the token closes with it."""

    @functools.wraps(evaluate_with_timeout)
    def wrapper(self: Any, env: Any) -> Any:
        if not _is_wait_for_task_token(self):
            return evaluate_with_timeout(self, env)
        pool = env.callback_pool_manager
        task = env.states.context_object.context_object_data.get("Task") or {}
        endpoint = pool.get(task.get("Token")) if task.get("Token") else None
        if endpoint is None or endpoint.consumer_error is not None:  # a retry: fresh token
            endpoint = pool.add(env.states.context_object.update_task_token())
        try:
            return evaluate_with_timeout(self, env)
        except Exception:
            if _still_running(env):
                raise
            # Stopped (or timed out) while waiting: AWS records only the execution's end,
            # no failure of the task.
            return None
        finally:
            with _NOTIFY_LOCK:
                endpoint.report(_closed())

    return wrapper


def _still_running(env: Any) -> bool:
    from moto.stepfunctions.parser.asl.eval.program_state import ProgramRunning

    return isinstance(env.program_state(), ProgramRunning)


def _stop_ends_waiting_tasks(stop: Any) -> Any:
    """StopExecution must end an execution whose task waits for a token (moto leaves it
    RUNNING until the task's TimeoutSeconds); its tokens close with it."""

    @functools.wraps(stop)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = stop(self, *args, **kwargs)
        worker = self.exec_worker
        if worker is not None:
            with _NOTIFY_LOCK:
                endpoints = list(worker.env.callback_pool_manager._pool.values())
                for endpoint in endpoints:
                    endpoint.report(_closed())
            for endpoint in endpoints:
                endpoint.interrupt_all()
        return result

    return wrapper


def _heartbeat_timeout_is_its_own_error(from_error: Any) -> Any:
    @functools.wraps(from_error)
    def wrapper(self: Any, env: Any, ex: Exception) -> Any:
        from moto.stepfunctions.parser.api import HistoryEventType, TaskTimedOutEventDetails
        from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import FailureEvent
        from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
        from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import StatesErrorNameType
        from moto.stepfunctions.parser.asl.eval.callback.callback import HeartbeatTimeoutError
        from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

        if not isinstance(ex, HeartbeatTimeoutError):
            return from_error(self, env, ex)
        name = StatesErrorNameType.StatesHeartbeatTimeout
        return FailureEvent(
            env=env,
            error_name=StatesErrorName(typ=name),
            event_type=HistoryEventType.TaskTimedOut,
            event_details=EventDetails(
                taskTimedOutEventDetails=TaskTimedOutEventDetails(
                    resourceType=self._get_sfn_resource_type(),
                    resource=self._get_sfn_resource(),
                    error=name.to_name(),
                )
            ),
        )

    return wrapper


# ---------------------------------------------------------------- SendTask* API


def _open_task(backend: Any, token: str) -> Any:
    """The callback endpoint of an open task, or the error AWS gives for this token."""
    from moto.stepfunctions.parser.api import ExecutionStatus, InvalidToken, TaskTimedOut

    for execution in backend._get_executions():
        worker = execution.exec_worker
        endpoint = worker.env.callback_pool_manager.get(token) if worker is not None else None
        if endpoint is None:
            continue
        if execution.status != ExecutionStatus.RUNNING or endpoint.consumer_error is not None or endpoint.get_outcome() is not None:
            # (the API module's TaskTimedOut has no error type of its own: name it)
            raise TaskTimedOut("Task Timed Out: 'Provided task does not exist anymore'", "TaskTimedOut")
        return endpoint
    raise InvalidToken()


def send_task_success(self: Any, task_token: str, outcome: str) -> None:
    from moto.stepfunctions.parser.api import InvalidOutput
    from moto.stepfunctions.parser.asl.eval.callback.callback import CallbackOutcomeSuccess

    try:
        json.loads(outcome)
    except (TypeError, ValueError):
        raise InvalidOutput("Invalid Output: the output of SendTaskSuccess must be a JSON text", "InvalidOutput")
    with _NOTIFY_LOCK:
        _open_task(self, task_token).notify(CallbackOutcomeSuccess(callback_id=task_token, output=outcome))


def send_task_failure(self: Any, task_token: str, error: str | None = None, cause: str | None = None) -> None:
    from moto.stepfunctions.parser.asl.eval.callback.callback import CallbackOutcomeFailure

    with _NOTIFY_LOCK:
        _open_task(self, task_token).notify(CallbackOutcomeFailure(callback_id=task_token, error=error, cause=cause))


def send_task_heartbeat(self: Any, task_token: str) -> None:
    with _NOTIFY_LOCK:
        _open_task(self, task_token).notify_heartbeat()  # False (no HeartbeatSeconds) is fine


def _send_task_failure_response(self: Any) -> Any:
    """StepFunctionResponse.send_task_failure, passing `cause` on."""
    from moto.core.responses import EmptyResult

    self.stepfunction_backend.send_task_failure(self._get_param("taskToken"), error=self._get_param("error"), cause=self._get_param("cause"))
    return EmptyResult()


def install() -> None:
    from moto.stepfunctions.models import StepFunctionBackend
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_callback import StateTaskServiceCallback
    from moto.stepfunctions.parser.backend.execution import Execution
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend
    from moto.stepfunctions.responses import StepFunctionResponse

    if getattr(StateTaskServiceCallback, "_byoc_callbacks", False):
        return
    StateTaskServiceCallback._evaluate_with_timeout = _token_per_attempt(StateTaskServiceCallback._evaluate_with_timeout)  # type: ignore[method-assign]
    StateTaskServiceCallback._from_error = _heartbeat_timeout_is_its_own_error(StateTaskServiceCallback._from_error)  # type: ignore[method-assign]
    StateTaskServiceCallback._byoc_callbacks = True  # type: ignore[attr-defined]
    Execution.stop = _stop_ends_waiting_tasks(Execution.stop)  # type: ignore[method-assign]
    StepFunctionsParserBackend.send_task_success = send_task_success  # type: ignore[method-assign]
    StepFunctionsParserBackend.send_task_failure = send_task_failure  # type: ignore[method-assign]
    StepFunctionsParserBackend.send_task_heartbeat = send_task_heartbeat  # type: ignore[method-assign]
    # The plain (non-executing) backend ignores callbacks; let it take the `cause` too.
    plain_failure = StepFunctionBackend.send_task_failure
    StepFunctionBackend.send_task_failure = lambda self, task_token, error=None, cause=None: plain_failure(self, task_token, error)  # type: ignore[method-assign]
    StepFunctionResponse.send_task_failure = _send_task_failure_response  # type: ignore[method-assign]
