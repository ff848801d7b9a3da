package org.gocdregistrybridge.shim;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class RestartPolicyTest {
    private final AtomicLong now = new AtomicLong(123_456_789L);
    private final RestartPolicy policy = new RestartPolicy(now::get);

    private void advanceSeconds(double seconds) {
        now.addAndGet((long) (seconds * TimeUnit.SECONDS.toNanos(1)));
    }

    private String refusal() {
        return assertThrows(BridgeException.class, policy::checkStartAllowed).getMessage();
    }

    @Test
    void allowsTheFirstStart() {
        assertDoesNotThrow(policy::checkStartAllowed);
    }

    @Test
    void backsOffOneSecondDoublingToThirtyAfterConsecutiveFailedStarts() {
        long[] expectedDelays = {1, 2, 4, 8, 16, 30, 30, 30};
        for (int i = 0; i < expectedDelays.length; i++) {
            policy.startFailed("boom " + (i + 1));
            String message = refusal();
            assertEquals("the sidecar failed to start " + (i + 1) + (i == 0 ? " time" : " times") + " in a row (last error: boom "
                    + (i + 1) + "); next attempt in " + expectedDelays[i] + " s; see the plugin log", message);
            advanceSeconds(expectedDelays[i] - 0.001);
            assertThrows(BridgeException.class, policy::checkStartAllowed);
            advanceSeconds(0.001);
            assertDoesNotThrow(policy::checkStartAllowed);
        }
    }

    @Test
    void reportsTheRemainingWaitRoundedUp() {
        policy.startFailed("x");
        policy.startFailed("x");
        policy.startFailed("x");
        advanceSeconds(1.5);
        assertEquals("the sidecar failed to start 3 times in a row (last error: x); next attempt in 3 s; see the plugin log",
                refusal());
    }

    @Test
    void aSidecarThatStayedUpSixtySecondsResetsTheBackOff() {
        for (int i = 0; i < 4; i++) {
            policy.startFailed("x");
        }
        advanceSeconds(8);
        policy.started();
        advanceSeconds(60);
        policy.stopped();
        policy.startFailed("y");
        assertEquals("the sidecar failed to start 1 time in a row (last error: y); next attempt in 1 s; see the plugin log",
                refusal());
    }

    @Test
    void aSidecarThatCrashedSoonerKeepsTheBackOffGoing() {
        for (int i = 0; i < 4; i++) {
            policy.startFailed("x");
        }
        advanceSeconds(8);
        policy.started();
        advanceSeconds(59.9);
        policy.stopped();
        assertDoesNotThrow(policy::checkStartAllowed, "a crash alone does not delay the restart");
        policy.startFailed("y");
        assertEquals("the sidecar failed to start 5 times in a row (last error: y); next attempt in 16 s; see the plugin log",
                refusal());
    }
}
