# A plain plivo-ruby app (knows nothing of plivo-flow): list conferences, kick member 1.
require 'plivo'
client = Plivo::RestClient.new(ENV['PLIVO_AUTH_ID'], ENV['PLIVO_AUTH_TOKEN'])
puts client.conferences.list[:conferences].inspect
client.conferences.kick_member('MyConference', '1') # raises unless 2xx
puts 'kicked member 1 of MyConference'
