package io.cubatch.loader;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A checkpoint of a loader: enough to continue with exactly the batches an uninterrupted loader would
 * have produced. Three numbers, so it fits any checkpoint format; {@link #toJson()} and {@link #toBytes()}
 * give it a stable form to store next to the model's weights, and {@link #fromJson(String)} and
 * {@link #fromBytes(byte[])} read it back.
 *
 * <p>JSON ({@value #FORMAT}): {@code {"format": "cubatch-loader-state-v1", "epoch": 3,
 * "consumed_samples": 1024, "plan_hash": "00ff00ff00ff00ff"}}; the plan hash is 16 hex digits, so that
 * readers that hold numbers as doubles (JavaScript, Python's json into float) cannot round it.
 *
 * <p>Bytes ({@value #BYTES} of them, big-endian):
 * <pre>
 *   0                   4                   8                  16                  24                  32
 *   +-------------------+-------------------+-------------------+-------------------+-------------------+
 *   | magic "CBLS"      | version 1 (int32) | epoch (int64)     | consumedSamples   | planHash (int64)  |
 *   +-------------------+-------------------+-------------------+-------------------+-------------------+
 * </pre>
 *
 * @param epoch           the epoch in progress
 * @param consumedSamples samples of the epoch's global order handed out (BatchPlan.consumedAfter)
 * @param planHash        BatchPlan.configHash of the plan that produced them; a resume with another
 *                        configuration is refused
 */
public record LoaderState(long epoch, long consumedSamples, long planHash) {
    /** The {@code format} field of {@link #toJson()}. */
    public static final String FORMAT = "cubatch-loader-state-v1";
    /** The length of {@link #toBytes()}. */
    public static final int BYTES = 32;
    private static final int MAGIC = 0x43424c53;   // "CBLS"
    private static final int VERSION = 1;
    private static final Pattern MEMBER = Pattern.compile("\\s*\"([a-z_]+)\"\\s*:\\s*(\"[0-9a-z-]*\"|-?[0-9]+)\\s*");

    /**
     * A state as read back from storage.
     *
     * @throws IllegalArgumentException when the epoch or the consumed count is negative
     */
    public LoaderState {
        if (epoch < 0 || consumedSamples < 0) {
            throw new IllegalArgumentException("a loader state needs epoch >= 0 and consumedSamples >= 0, got epoch="
                    + epoch + ", consumedSamples=" + consumedSamples);
        }
    }

    /**
     * This state as one line of JSON (see the class comment).
     *
     * @return the JSON object, which {@link #fromJson(String)} reads back
     */
    public String toJson() {
        return "{\"format\": \"" + FORMAT + "\", \"epoch\": " + epoch + ", \"consumed_samples\": " + consumedSamples
                + ", \"plan_hash\": \"" + HexFormat.of().toHexDigits(planHash) + "\"}";
    }

    /**
     * Reads a state written by {@link #toJson()}: exactly its four members, in any order, with any whitespace.
     *
     * @param json the JSON object
     * @return the state
     * @throws IllegalArgumentException naming what is wrong, when {@code json} is not such an object
     */
    public static LoaderState fromJson(String json) {
        String s = json.strip();
        if (s.length() < 2 || s.charAt(0) != '{' || s.charAt(s.length() - 1) != '}') {
            throw badJson(json, "not a JSON object");
        }
        Map<String, String> members = new HashMap<>();
        String body = s.substring(1, s.length() - 1);
        for (String member : body.split(",", -1)) {
            Matcher m = MEMBER.matcher(member);
            if (!m.matches()) {
                throw badJson(json, "member '" + member.strip() + "' is not \"name\": number or \"name\": \"hex\"");
            }
            if (members.put(m.group(1), m.group(2)) != null) {
                throw badJson(json, "member \"" + m.group(1) + "\" appears twice");
            }
        }
        if (!("\"" + FORMAT + "\"").equals(members.remove("format"))) {
            throw badJson(json, "\"format\" must be \"" + FORMAT + "\"");
        }
        long epoch = number(json, members.remove("epoch"), "epoch");
        long consumed = number(json, members.remove("consumed_samples"), "consumed_samples");
        String hash = members.remove("plan_hash");
        if (hash == null || !hash.matches("\"[0-9a-f]{16}\"")) {
            throw badJson(json, "\"plan_hash\" must be a string of 16 hex digits, got " + hash);
        }
        if (!members.isEmpty()) {
            throw badJson(json, "unknown member(s) " + members.keySet());
        }
        return new LoaderState(epoch, consumed, HexFormat.fromHexDigitsToLong(hash.substring(1, 17)));
    }

    /**
     * This state as {@value #BYTES} bytes (see the class comment).
     *
     * @return a new array, which {@link #fromBytes(byte[])} reads back
     */
    public byte[] toBytes() {
        return ByteBuffer.allocate(BYTES).order(ByteOrder.BIG_ENDIAN).putInt(MAGIC).putInt(VERSION).putLong(epoch)
                .putLong(consumedSamples).putLong(planHash).array();
    }

    /**
     * Reads a state written by {@link #toBytes()}.
     *
     * @param bytes exactly {@value #BYTES} bytes
     * @return the state
     * @throws IllegalArgumentException when the length, the magic or the version is not the expected one
     */
    public static LoaderState fromBytes(byte[] bytes) {
        if (bytes.length != BYTES) {
            throw new IllegalArgumentException("a loader state is " + BYTES + " bytes, got " + bytes.length);
        }
        ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.BIG_ENDIAN);
        int magic = b.getInt();
        if (magic != MAGIC) {
            throw new IllegalArgumentException("not a cubatch loader state: magic 0x" + Integer.toHexString(magic)
                    + ", expected 0x" + Integer.toHexString(MAGIC) + " (\"CBLS\")");
        }
        int version = b.getInt();
        if (version != VERSION) {
            throw new IllegalArgumentException("loader state version " + version + " is not supported (this cubatch"
                    + " reads version " + VERSION + ")");
        }
        return new LoaderState(b.getLong(), b.getLong(), b.getLong());
    }

    private static long number(String json, String value, String name) {
        if (value == null || value.startsWith("\"")) {
            throw badJson(json, "\"" + name + "\" must be a number, got " + value);
        }
        try {
            return Long.parseLong(value);
        } catch (NumberFormatException e) {
            throw badJson(json, "\"" + name + "\" " + value + " does not fit 64 bits");
        }
    }

    private static IllegalArgumentException badJson(String json, String what) {
        String shown = json.length() > 200 ? json.substring(0, 200) + "..." : json;
        return new IllegalArgumentException("not a cubatch loader state (" + what + "): " + shown);
    }
}
