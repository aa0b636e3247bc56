package main

import (
	"context"
	"errors"
)

// runServe runs the bot: Slack Socket Mode, the scheduler and HTTP.
func (m *Main) runServe(ctx context.Context, args []string) error {
	return errors.New("serve is not wired yet")
}
