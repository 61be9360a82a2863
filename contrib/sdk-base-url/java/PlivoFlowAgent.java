// Points an unmodified Java app's plivo-java SDK at `plivo-flow serve`.
//
// Build once (JDK 8+), in this folder:
//   javac -d classes PlivoFlowAgent.java && printf 'Premain-Class: PlivoFlowAgent\n' > agent.mf
//   jar cfm plivo-flow-agent.jar agent.mf -C classes .
// Use (any launcher: java -jar, mvn exec:java, gradle run, an IDE, since every JVM reads it):
//   PLIVO_FLOW_URL=http://127.0.0.1:8765 JAVA_TOOL_OPTIONS=-javaagent:/path/to/plivo-flow-agent.jar java -jar app.jar
//
// What it patches: plivo-java keeps its hosts in static fields of com.plivo.api.PlivoClient,
// BASE_URL, VOICE_BASE_URL, VOICE_FALLBACK1_URL and VOICE_FALLBACK2_URL, all initialised to
// "https://api.plivo.com/v1/" (src/main/java/com/plivo/api/PlivoClient.java); the voice ones
// are used whatever base URL a constructor is given. When PlivoClient's class file is loaded
// (by any class loader, fat jars included), this agent replaces that one string constant in
// it with PLIVO_FLOW_URL + "/v1/" and says so on stderr. No other class and no byte code is
// touched. Without PLIVO_FLOW_URL it does nothing. Checked against plivo-java v5.49.0.
import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.lang.instrument.ClassFileTransformer;
import java.lang.instrument.Instrumentation;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.ProtectionDomain;

public final class PlivoFlowAgent {
  static final String FROM = "https://api.plivo.com/v1/";

  public static void premain(String args, Instrumentation inst) {
    String url = System.getenv("PLIVO_FLOW_URL");
    if (url == null || url.isEmpty()) return;
    final String to = url.replaceAll("/+$", "") + "/v1/";
    inst.addTransformer(new ClassFileTransformer() {
      @Override
      public byte[] transform(ClassLoader l, String name, Class<?> c, ProtectionDomain d, byte[] b) {
        if (!"com/plivo/api/PlivoClient".equals(name)) return null;
        try {
          byte[] out = replaceUtf8(b, FROM, to);
          System.err.println(out == null
              ? "plivo-flow agent: no " + FROM + " in PlivoClient; PLIVO_FLOW_URL is NOT applied"
              : "plivo-flow agent: plivo-java PlivoClient -> " + to);
          return out;
        } catch (IOException | RuntimeException e) {
          System.err.println("plivo-flow agent: " + e + "; PLIVO_FLOW_URL is NOT applied");
          return null;
        }
      }
    });
  }

  // Rewrites the CONSTANT_Utf8 entries equal to `from` in a class file; null if there is none.
  static byte[] replaceUtf8(byte[] b, String from, String to) throws IOException {
    ByteBuffer in = ByteBuffer.wrap(b);
    ByteArrayOutputStream buf = new ByteArrayOutputStream(b.length + 64);
    DataOutputStream out = new DataOutputStream(buf);
    out.write(b, 0, 10); // magic, minor, major, constant_pool_count
    in.position(10);
    int count = Short.toUnsignedInt(in.getShort(8));
    boolean hit = false;
    for (int i = 1; i < count; i++) {
      int start = in.position(), tag = in.get();
      if (tag == 1) {
        byte[] s = new byte[Short.toUnsignedInt(in.getShort())];
        in.get(s);
        if (new String(s, StandardCharsets.UTF_8).equals(from)) {
          out.writeByte(1);
          out.writeUTF(to); // modified UTF-8, as class files use
          hit = true;
          continue;
        }
      } else {
        int len = tag == 5 || tag == 6 ? 8 : tag == 15 ? 3
            : tag == 7 || tag == 8 || tag == 16 || tag == 19 || tag == 20 ? 2 : 4;
        if (tag == 5 || tag == 6) i++; // long and double take two slots
        in.position(in.position() + len);
      }
      out.write(b, start, in.position() - start);
    }
    if (!hit) return null;
    out.write(b, in.position(), b.length - in.position());
    return buf.toByteArray();
  }
}
