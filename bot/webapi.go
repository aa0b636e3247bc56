package bot

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/slack-go/slack"
)

// NewClient returns a slack-go Web API client for the given tokens and
// optional API URL (a trailing slash is added when missing); a nil hc
// means a client with a 30 s timeout.
func NewClient(botToken, appToken, apiURL string, hc *http.Client) *slack.Client {
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	opts := []slack.Option{slack.OptionAppLevelToken(appToken), slack.OptionHTTPClient(hc)}
	if apiURL != "" {
		if !strings.HasSuffix(apiURL, "/") {
			apiURL += "/"
		}
		opts = append(opts, slack.OptionAPIURL(apiURL))
	}
	return slack.New(botToken, opts...)
}

// poster posts, updates and uploads through the Web API, every call
// through the pacer (Slack's rate limits, 429s waited out), at priority
// prio.
type poster struct {
	api   *slack.Client
	pacer *Pacer
	prio  Priority
}

// at returns the poster posting at priority prio.
func (p poster) at(prio Priority) poster {
	p.prio = prio
	return p
}

func msgOptions(m Message) []slack.MsgOption {
	opts := []slack.MsgOption{slack.MsgOptionText(cut(m.Text, MaxMessageText), false)}
	if len(m.Blocks) > 0 {
		opts = append(opts, slack.MsgOptionBlocks(m.Blocks...))
	}
	return opts
}

// post posts m to channel (as a thread reply when thread is set) and
// returns its ts.
func (p poster) post(ctx context.Context, channel, thread string, m Message) (string, error) {
	opts := msgOptions(m)
	if thread != "" {
		opts = append(opts, slack.MsgOptionTS(thread))
	}
	var ts string
	err := p.pacer.Call(ctx, MethodPostMessage, channel, p.prio, func() error {
		var err error
		_, ts, err = p.api.PostMessageContext(ctx, channel, opts...)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("post to %s: %w", channel, err)
	}
	return ts, nil
}

// update replaces the message channel/ts with m.
func (p poster) update(ctx context.Context, channel, ts string, m Message) error {
	err := p.pacer.Call(ctx, MethodUpdate, channel, p.prio, func() error {
		_, _, _, err := p.api.UpdateMessageContext(ctx, channel, ts, msgOptions(m)...)
		return err
	})
	if err != nil {
		return fmt.Errorf("update %s %s: %w", channel, ts, err)
	}
	return nil
}

// upload attaches f to channel (in thread when set) with the files upload
// v2 flow, each Web API call paced on its own: files.getUploadURLExternal,
// the upload to the URL it returns, then files.completeUploadExternal.
func (p poster) upload(ctx context.Context, channel, thread string, f *File) error {
	if f == nil || len(f.Content) == 0 {
		return nil
	}
	var u *slack.GetUploadURLExternalResponse
	err := p.pacer.Call(ctx, MethodGetUploadURL, channel, p.prio, func() error {
		var err error
		u, err = p.api.GetUploadURLExternalContext(ctx, slack.GetUploadURLExternalParameters{
			FileName: f.Name, FileSize: len(f.Content), SnippetType: "csv"})
		return err
	})
	if err == nil {
		err = p.api.UploadToURL(ctx, slack.UploadToURLParameters{UploadURL: u.UploadURL, Reader: bytes.NewReader(f.Content), Filename: f.Name})
	}
	if err == nil {
		err = p.pacer.Call(ctx, MethodCompleteUpload, channel, p.prio, func() error {
			_, err := p.api.CompleteUploadExternalContext(ctx, slack.CompleteUploadExternalParameters{
				Files: []slack.FileSummary{{ID: u.FileID, Title: f.Title}}, Channel: channel, ThreadTimestamp: thread})
			return err
		})
	}
	if err != nil {
		return fmt.Errorf("upload %s to %s: %w", f.Name, channel, err)
	}
	return nil
}

// GroupMembers implements commands.GroupMembers over Slack's
// usergroups.users.list (scope usergroups:read).
type GroupMembers struct {
	API *slack.Client
}

// GroupMembers returns the user IDs of the members of a user group.
func (g GroupMembers) GroupMembers(ctx context.Context, groupID string) ([]string, error) {
	return g.API.GetUserGroupMembersContext(ctx, groupID)
}
