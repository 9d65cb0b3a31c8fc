package main

import (
	"testing"

	"github.com/stripeline/stripeline/pkg/service/servicetest"
	"github.com/stripeline/stripeline/services/api/internal/config"
)

func TestHelpListsEverySetting(t *testing.T) {
	servicetest.CheckHelp[config.Config](t, help)
}
