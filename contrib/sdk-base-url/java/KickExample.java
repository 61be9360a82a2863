// A plain plivo-java app (knows nothing of plivo-flow): list conferences, kick member 1.
import com.plivo.api.Plivo;
import com.plivo.api.models.conference.Conference;

public class KickExample {
  public static void main(String[] args) throws Exception {
    Plivo.init(); // PLIVO_AUTH_ID / PLIVO_AUTH_TOKEN
    System.out.println(Conference.listGetter().get().getConferences());
    System.out.println(Conference.memberKicker("MyConference", "1").kick().getMessage());
  }
}
