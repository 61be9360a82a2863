# Points an unmodified Ruby app's plivo gem at `plivo-flow serve`.
#
#   PLIVO_FLOW_URL=http://127.0.0.1:8765 RUBYOPT="-r/path/to/plivo_flow.rb" ruby app.rb
#   (an app with a Gemfile: the same with `bundle exec ruby app.rb`, so the locked gem is the one loaded)
#
# What it patches: plivo-ruby keeps its API hosts in the frozen constants
# Plivo::Base::PLIVO_API_URL, API_VOICE, API_VOICE_FALLBACK_1/_2 (lib/plivo/base.rb), and
# Plivo::RestClient#configure_base_uri copies them into every new client
# (lib/plivo/rest_client.rb). Request paths are absolute ("/v1/Account/..."), so the
# replacement is the server's root. This file loads the gem, redefines those four constants
# and says so on stderr; nothing else changes. Without PLIVO_FLOW_URL it does nothing.
# Checked against plivo-ruby v4.63.4.
url = ENV['PLIVO_FLOW_URL'].to_s.chomp('/')
plivo = !url.empty? && begin
  require 'plivo'
  true
rescue LoadError
  warn 'plivo_flow.rb: no plivo gem to patch; PLIVO_FLOW_URL is NOT applied'
  false
end
if plivo
  %i[PLIVO_API_URL API_VOICE API_VOICE_FALLBACK_1 API_VOICE_FALLBACK_2].each do |name|
    next unless Plivo::Base.const_defined?(name, false)
    Plivo::Base.send(:remove_const, name)
    Plivo::Base.const_set(name, url.dup.freeze)
  end
  warn "plivo_flow.rb: plivo-ruby #{Plivo::VERSION} -> #{url}"
end
