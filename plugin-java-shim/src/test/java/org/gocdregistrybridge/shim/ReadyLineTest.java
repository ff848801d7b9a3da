package org.gocdregistrybridge.shim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class ReadyLineTest {
    @Test
    void readsPortVersionAndPid() {
        ReadyLine line = ReadyLine.parse("GOCD_REGISTRY_BRIDGE_READY port=43125 version=0.1.0 pid=4242").orElseThrow();
        assertEquals(43125, line.port);
        assertEquals("0.1.0", line.version);
        assertEquals("4242", line.pid);
    }

    @Test
    void ignoresUnknownKeysAndKeyOrder() {
        ReadyLine line = ReadyLine.parse("GOCD_REGISTRY_BRIDGE_READY pid=7 node=v22.3.0 port=8787 version=1.2.3 x").orElseThrow();
        assertEquals(8787, line.port);
        assertEquals("1.2.3", line.version);
        assertEquals("7", line.pid);
    }

    @Test
    void acceptsATrailingCarriageReturnAndMissingVersion() {
        ReadyLine line = ReadyLine.parse("GOCD_REGISTRY_BRIDGE_READY port=1\r").orElseThrow();
        assertEquals(1, line.port);
        assertEquals("?", line.version);
    }

    @Test
    void returnsEmptyForLogLinesAndGarbage() {
        assertTrue(ReadyLine.parse("").isEmpty());
        assertTrue(ReadyLine.parse("{\"level\":\"info\",\"msg\":\"listening\"}").isEmpty());
        assertTrue(ReadyLine.parse("\u0000\u00ff garbage port=80").isEmpty());
        assertTrue(ReadyLine.parse("GOCD_REGISTRY_BRIDGE_READYport=80").isEmpty());
    }

    @Test
    void returnsEmptyWhenTheKeywordIsNotAtTheStart() {
        assertTrue(ReadyLine.parse("{\"msg\":\"printing GOCD_REGISTRY_BRIDGE_READY port=80\"}").isEmpty());
        assertTrue(ReadyLine.parse("[boot] GOCD_REGISTRY_BRIDGE_READY port=80 version=1 pid=2").isEmpty());
    }

    @Test
    void rejectsAHandshakeWithoutAValidPort() {
        for (String bad : new String[] {"", " port=", " port=0", " port=65536", " port=-1", " port=80a", " port=999999",
                " version=1 pid=2", " PORT=80"}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> ReadyLine.parse("GOCD_REGISTRY_BRIDGE_READY" + bad), bad);
            assertTrue(e.getMessage().startsWith("ready line without a valid port (1-65535)"), e.getMessage());
        }
    }

    @Test
    void acceptsTheHighestPort() {
        assertEquals(65535, ReadyLine.parse("GOCD_REGISTRY_BRIDGE_READY port=65535").orElseThrow().port);
    }
}
