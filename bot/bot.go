// Package bot is zdsync's Slack runtime: the Socket Mode connection that
// receives /zdsync commands and button presses, the Block Kit rendering of
// every message (the on-call replies in oncall.go), and the Notifier that
// posts run summaries, quiet-run status, grouped failure alerts and the
// hourly digest of incremental runs (a reporter of the application core).
//
// Commands are handled by package commands; bot only moves them between
// Slack and it. Every envelope is acknowledged at once (Slack allows
// AckDeadline), the work runs afterwards in a goroutine bounded by a
// semaphore, and the answer goes through the command's response_url or
// chat.postMessage. An envelope delivered again is acknowledged again and
// not run twice, whichever replica it lands on (EnvelopeStore). Every post
// goes through one Pacer (pace.go), within Slack's rate limits.
package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"

	"github.com/zdsync/zdsync/commands"
)

// AckDeadline is how long Slack waits for an envelope to be acknowledged
// before it tells the user the command failed: "your app must respond
// within 3 seconds" (https://api.slack.com/apis/socket-mode#acknowledge,
// https://api.slack.com/interactivity/slash-commands#responding_basic_receipt).
const AckDeadline = 3 * time.Second

// ResponseURLLifetime is how long a response_url accepts posts: "up to 5
// times within 30 minutes"
// (https://api.slack.com/interactivity/handling#message_responses).
const ResponseURLLifetime = 30 * time.Minute

// WorkingText is the immediate answer to every command, sent with its ack.
const WorkingText = "Working on it…"

// RedeliveryWindow is how long the bot remembers the envelopes it
// received. Socket Mode delivers at least once: an envelope whose ack Slack
// did not count (sent late, or lost with a connection being refreshed)
// comes again with its envelope_id and retry_attempt/retry_reason set
// (https://api.slack.com/apis/connections/socket-implement), to any of the
// app's connections, so to any replica. A redelivery within the window is
// acknowledged again but not run again: a command or an Apply runs once.
// The window covers the life of a response_url.
const RedeliveryWindow = ResponseURLLifetime

// envelopeCleanup is how often a replica deletes the envelopes remembered
// past RedeliveryWindow.
const envelopeCleanup = 5 * time.Minute

// EnvelopeStore remembers the envelopes the replicas received.
// ClaimEnvelope records an envelope ID until now+ttl and reports whether
// it is received for the first time (one caller wins, on any replica);
// DeleteExpiredEnvelopes forgets those remembered until now or earlier.
// *store.DB satisfies it.
type EnvelopeStore interface {
	ClaimEnvelope(ctx context.Context, id string, now time.Time, ttl time.Duration) (bool, error)
	DeleteExpiredEnvelopes(ctx context.Context, now time.Time) (int, error)
}

// Defaults of Config.
const (
	// DefaultMaxConcurrent is how many commands are worked on at once.
	DefaultMaxConcurrent = 8
	// DefaultWorkTimeout leaves a command time to answer before its
	// response_url expires.
	DefaultWorkTimeout = ResponseURLLifetime - 2*time.Minute
	// DefaultShutdownGrace is how long Run lets running commands finish
	// at shutdown.
	DefaultShutdownGrace = 20 * time.Second
)

// Config configures a Bot.
type Config struct {
	// BotToken (xoxb-…) and AppToken (xapp-…, with connections:write)
	// are SLACK_BOT_TOKEN and SLACK_APP_TOKEN.
	BotToken string
	AppToken string
	// APIURL overrides Slack's Web API URL (SLACK_API_URL), for tests.
	APIURL string
	// HTTPClient makes every Slack request; nil means a client with a
	// 30 s timeout.
	HTTPClient *http.Client
	// Commands handles commands and presses. Required.
	Commands *commands.Commands
	// Envelopes remembers the envelopes received, so that a redelivery
	// runs nothing on any replica; nil remembers them in this process
	// only (one replica).
	Envelopes EnvelopeStore
	// Pacer paces every Web API post (share it with the Notifier); nil
	// means a Pacer of its own.
	Pacer *Pacer
	// MaxConcurrent bounds the commands worked on at once.
	MaxConcurrent int
	// WorkTimeout bounds one command's work (it must answer while its
	// response_url is still valid).
	WorkTimeout time.Duration
	// ShutdownGrace is how long Run waits for running commands after its
	// context ends before cancelling them.
	ShutdownGrace time.Duration
	// Logger receives the bot's logs; nil means slog.Default().
	Logger *slog.Logger
}

// Bot is the Slack Socket Mode runtime. Create it with New and Run it.
type Bot struct {
	api       *slack.Client
	sm        *socketmode.Client
	http      *http.Client
	cmds      *commands.Commands
	envelopes EnvelopeStore
	pacer     *Pacer
	sem       chan struct{}
	timeout   time.Duration
	grace     time.Duration
	log       *slog.Logger
	botUser   atomic.Value // string
	// cleaned is when this replica last deleted expired envelopes (Unix
	// nanoseconds).
	cleaned atomic.Int64
	// connected is set while the Socket Mode connection is up.
	connected atomic.Bool
	wg        sync.WaitGroup
}

// The prefixes of Slack's token types ("Token types",
// https://api.slack.com/concepts/token-types): a bot token is xoxb-…, an
// app-level token xapp-….
const (
	BotTokenPrefix = "xoxb-"
	AppTokenPrefix = "xapp-"
)

// CheckTokens checks that the tokens that are set have their type's
// prefix, and names the variable of the first that does not (never the
// token): a token of the wrong type fails only when the bot connects.
func CheckTokens(botToken, appToken string) error {
	if botToken != "" && !strings.HasPrefix(botToken, BotTokenPrefix) {
		return errors.New("SLACK_BOT_TOKEN must be a bot token (" + BotTokenPrefix + "…)")
	}
	if appToken != "" && !strings.HasPrefix(appToken, AppTokenPrefix) {
		return errors.New("SLACK_APP_TOKEN must be an app-level token with connections:write (" + AppTokenPrefix + "…)")
	}
	return nil
}

// New returns a Bot for cfg. It makes no network call.
func New(cfg Config) (*Bot, error) {
	if cfg.Commands == nil {
		return nil, errors.New("bot: no Commands")
	}
	if cfg.BotToken == "" || cfg.AppToken == "" {
		return nil, errors.New("SLACK_BOT_TOKEN and SLACK_APP_TOKEN must be set")
	}
	if err := CheckTokens(cfg.BotToken, cfg.AppToken); err != nil {
		return nil, err
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if cfg.MaxConcurrent <= 0 {
		cfg.MaxConcurrent = DefaultMaxConcurrent
	}
	if cfg.WorkTimeout <= 0 {
		cfg.WorkTimeout = DefaultWorkTimeout
	}
	if cfg.ShutdownGrace <= 0 {
		cfg.ShutdownGrace = DefaultShutdownGrace
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Envelopes == nil {
		cfg.Envelopes = &memoryEnvelopes{seen: map[string]time.Time{}}
	}
	if cfg.Pacer == nil {
		cfg.Pacer = NewPacer(nil, cfg.Logger)
	}
	api := NewClient(cfg.BotToken, cfg.AppToken, cfg.APIURL, cfg.HTTPClient)
	b := &Bot{
		api:       api,
		sm:        socketmode.New(api, socketmode.OptionLog(slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelDebug))),
		http:      cfg.HTTPClient,
		cmds:      cfg.Commands,
		sem:       make(chan struct{}, cfg.MaxConcurrent),
		timeout:   cfg.WorkTimeout,
		grace:     cfg.ShutdownGrace,
		log:       cfg.Logger,
		envelopes: cfg.Envelopes,
		pacer:     cfg.Pacer,
	}
	b.botUser.Store("")
	return b, nil
}

// API returns the bot's Web API client, for the Notifier and GroupMembers.
func (b *Bot) API() *slack.Client { return b.api }

// Pacer returns the pacer of the bot's posts, for the Notifier and every
// other poster of the process.
func (b *Bot) Pacer() *Pacer { return b.pacer }

// Connected reports whether the Socket Mode connection is up (for
// /readyz).
func (b *Bot) Connected() bool { return b.connected.Load() }

// Run connects to Slack and handles commands until ctx ends, reconnecting
// on its own (with backoff) whenever the connection drops. It then waits up
// to ShutdownGrace for running commands, cancels the rest, and returns nil;
// it returns an error early only when Slack refuses the tokens.
func (b *Bot) Run(ctx context.Context) error {
	workCtx, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()
	evCtx, stopEvents := context.WithCancel(ctx)
	defer stopEvents()
	evDone := make(chan struct{})
	go func() { defer close(evDone); b.events(evCtx, workCtx) }()

	var runErr error
	backoff := time.Second
	for ctx.Err() == nil {
		if b.botUser.Load().(string) == "" {
			if at, err := b.api.AuthTestContext(ctx); err == nil {
				b.botUser.Store(at.UserID)
			} else if isAuthError(err) {
				runErr = fmt.Errorf("slack auth.test: %w", err)
				break
			}
		}
		start := time.Now()
		err := b.sm.RunContext(ctx)
		if ctx.Err() != nil {
			break
		}
		if isAuthError(err) {
			runErr = fmt.Errorf("slack socket mode: %w", err)
			break
		}
		if time.Since(start) > time.Minute {
			backoff = time.Second
		}
		b.log.WarnContext(ctx, "slack connection lost; reconnecting", "err", err, "in", backoff)
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Minute)
	}

	// No command is started once the events goroutine is gone, so the
	// wait below sees them all.
	stopEvents()
	<-evDone
	done := make(chan struct{})
	go func() { b.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(b.grace):
		b.log.Warn("cancelling running commands at shutdown")
		cancelWork()
		<-done
	}
	return runErr
}

func isAuthError(err error) bool {
	if err == nil {
		return false
	}
	switch err.Error() {
	case "invalid_auth", "account_inactive", "not_authed", "token_revoked", "not_allowed_token_type":
		return true
	}
	var sc slack.StatusCodeError
	return errors.As(err, &sc) && sc.Code == http.StatusNotFound
}

// events reads the Socket Mode client's events until ctx ends.
func (b *Bot) events(ctx, workCtx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case evt := <-b.sm.Events:
			b.handle(ctx, workCtx, evt)
		}
	}
}

func (b *Bot) handle(ctx, workCtx context.Context, evt socketmode.Event) {
	switch evt.Type {
	case socketmode.EventTypeSlashCommand:
		cmd, ok := evt.Data.(slack.SlashCommand)
		if !ok || evt.Request == nil {
			return
		}
		b.ack(ctx, evt.Request, map[string]any{"response_type": "ephemeral", "text": WorkingText + " " + codeSpan(cmd.Command+" "+cut(cmd.Text, 200))})
		b.spawn(workCtx, evt.Request, func(ctx context.Context) { b.command(ctx, cmd) })
	case socketmode.EventTypeInteractive:
		cb, ok := evt.Data.(slack.InteractionCallback)
		if !ok || evt.Request == nil {
			return
		}
		b.ack(ctx, evt.Request, nil)
		if cb.Type != slack.InteractionTypeBlockActions || len(cb.ActionCallback.BlockActions) == 0 {
			return
		}
		act := cb.ActionCallback.BlockActions[0]
		b.spawn(workCtx, evt.Request, func(ctx context.Context) { b.press(ctx, cb, act) })
	case socketmode.EventTypeEventsAPI:
		if evt.Request != nil {
			b.ack(ctx, evt.Request, nil)
		}
	case socketmode.EventTypeConnected:
		b.connected.Store(true)
		b.log.InfoContext(ctx, "slack connected")
	case socketmode.EventTypeConnecting, socketmode.EventTypeDisconnect:
		b.connected.Store(false)
	case socketmode.EventTypeConnectionError, socketmode.EventTypeIncomingError, socketmode.EventTypeErrorBadMessage, socketmode.EventTypeErrorWriteFailed:
		if evt.Type == socketmode.EventTypeConnectionError {
			b.connected.Store(false)
		}
		b.log.WarnContext(ctx, "slack socket mode", "event", string(evt.Type), "data", fmt.Sprint(evt.Data))
	}
}

// redelivered reports whether req's envelope was received before, by any
// replica, within RedeliveryWindow, and remembers it otherwise. When the
// store cannot tell, the envelope runs: a command is better run than lost.
func (b *Bot) redelivered(ctx context.Context, req *socketmode.Request) bool {
	if req.EnvelopeID == "" {
		return false
	}
	now := time.Now()
	if last := b.cleaned.Load(); now.UnixNano()-last > int64(envelopeCleanup) && b.cleaned.CompareAndSwap(last, now.UnixNano()) {
		if _, err := b.envelopes.DeleteExpiredEnvelopes(ctx, now); err != nil {
			b.log.WarnContext(ctx, "delete expired envelopes", "err", err)
		}
	}
	first, err := b.envelopes.ClaimEnvelope(ctx, req.EnvelopeID, now, RedeliveryWindow)
	if err != nil {
		b.log.WarnContext(ctx, "could not check whether the envelope was received before; running it", "envelope", req.EnvelopeID, "err", err)
		return false
	}
	if !first {
		b.log.InfoContext(ctx, "envelope received again; not run again", "envelope", req.EnvelopeID,
			"retry_attempt", req.RetryAttempt, "retry_reason", req.RetryReason)
	}
	return !first
}

// memoryEnvelopes is the EnvelopeStore of a bot without a database: this
// process's memory.
type memoryEnvelopes struct {
	mu   sync.Mutex
	seen map[string]time.Time // envelope ID → remembered until
}

func (m *memoryEnvelopes) ClaimEnvelope(_ context.Context, id string, now time.Time, ttl time.Duration) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if until, ok := m.seen[id]; ok && now.Before(until) {
		return false, nil
	}
	m.seen[id] = now.Add(ttl)
	return true, nil
}

func (m *memoryEnvelopes) DeleteExpiredEnvelopes(_ context.Context, now time.Time) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for id, until := range m.seen {
		if !now.Before(until) {
			delete(m.seen, id)
			n++
		}
	}
	return n, nil
}

// ack acknowledges an envelope at once; Slack gives AckDeadline.
func (b *Bot) ack(ctx context.Context, req *socketmode.Request, payload any) {
	actx, cancel := context.WithTimeout(ctx, AckDeadline)
	defer cancel()
	if err := b.sm.AckCtx(actx, req.EnvelopeID, payload); err != nil {
		b.log.ErrorContext(ctx, "ack", "envelope", req.EnvelopeID, "err", err)
	}
}

// spawn runs the work of req after its ack, unless req is a redelivery,
// at most MaxConcurrent at once.
func (b *Bot) spawn(ctx context.Context, req *socketmode.Request, work func(ctx context.Context)) {
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		if b.redelivered(ctx, req) {
			return
		}
		select {
		case b.sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		defer func() { <-b.sem }()
		wctx, cancel := context.WithTimeout(ctx, b.timeout)
		defer cancel()
		work(wctx)
	}()
}

func (b *Bot) command(ctx context.Context, cmd slack.SlashCommand) {
	r := b.cmds.Run(ctx, commands.Request{User: cmd.UserID, Text: cmd.Text})
	m := RenderReply(r)
	if err := b.respond(ctx, cmd.ResponseURL, m, r.Public, false); err != nil {
		b.log.ErrorContext(ctx, "answer command", "user", cmd.UserID, "command", r.Command, "err", err)
		return
	}
	if m.CSV != nil {
		b.attach(ctx, cmd.ChannelID, "", cmd.ResponseURL, m.CSV)
	}
}

func (b *Bot) press(ctx context.Context, cb slack.InteractionCallback, act *slack.BlockAction) {
	action, _, _ := strings.Cut(act.ActionID, ":")
	_ = b.respond(ctx, cb.ResponseURL, Message{Text: WorkingText}, false, false)
	r := b.cmds.Press(ctx, commands.Press{Action: action, Value: act.Value, User: cb.User.ID,
		FromBot: cb.User.ID != "" && cb.User.ID == b.botUser.Load().(string)})
	m := RenderReply(r)
	var err error
	switch {
	case r.Kind == commands.KindUsage || r.Kind == commands.KindDenied || r.Kind == commands.KindError:
		err = b.respond(ctx, cb.ResponseURL, m, false, false)
	case action == commands.ActionApply || action == commands.ActionDiscard:
		// The plan's message becomes its outcome: no buttons to press twice.
		err = b.respond(ctx, cb.ResponseURL, m, true, true)
		if err == nil && m.CSV != nil {
			ts := cb.Container.MessageTs
			if ts == "" {
				ts = cb.Message.Timestamp
			}
			b.attach(ctx, cb.Channel.ID, ts, cb.ResponseURL, m.CSV)
		}
	default:
		// Retry and Run again answer in the alert's thread.
		ts := cb.Container.MessageTs
		if ts == "" {
			ts = cb.Message.Timestamp
		}
		if _, err = b.poster().post(ctx, cb.Channel.ID, ts, m); err != nil {
			err = b.respond(ctx, cb.ResponseURL, m, true, false)
		} else if m.CSV != nil {
			b.attach(ctx, cb.Channel.ID, ts, cb.ResponseURL, m.CSV)
		}
	}
	if err != nil {
		b.log.ErrorContext(ctx, "answer button", "user", cb.User.ID, "action", action, "err", err)
	}
}

// poster posts the bot's answers to people, through its pacer.
func (b *Bot) poster() poster { return poster{api: b.api, pacer: b.pacer, prio: PriorityReply} }

// respond posts m to a response_url: visible to the channel when public,
// replacing the message the button was on when replace.
func (b *Bot) respond(ctx context.Context, url string, m Message, public, replace bool) error {
	if url == "" {
		return errors.New("no response_url")
	}
	msg := &slack.WebhookMessage{Text: cut(m.Text, MaxMessageText), ResponseType: slack.ResponseTypeEphemeral, ReplaceOriginal: replace}
	if public {
		msg.ResponseType = slack.ResponseTypeInChannel
	}
	if len(m.Blocks) > 0 {
		msg.Blocks = &slack.Blocks{BlockSet: m.Blocks}
	}
	return slack.PostWebhookCustomHTTPContext(ctx, url, b.http, msg)
}

// attach uploads a CSV to channel (in thread when set); a failure (the bot
// is not in the channel) is told to the user through responseURL.
func (b *Bot) attach(ctx context.Context, channel, thread, responseURL string, f *File) {
	if err := b.poster().upload(ctx, channel, thread, f); err != nil {
		b.log.WarnContext(ctx, "attach CSV", "channel", channel, "file", f.Name, "err", err)
		_ = b.respond(ctx, responseURL, Message{Text: "The full list could not be attached here (" + err.Error() + "): invite the bot to this channel, or use the CLI."}, false, false)
	}
}
