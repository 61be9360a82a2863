//go:build ignore
// +build ignore

// A plain plivo-go app (knows nothing of plivo-flow): list conferences, kick member 1.
// Copy it to main.go in a folder of its own, beside plivo_flow.go, to try the recipe.
package main

import (
	"fmt"
	"log"

	"github.com/plivo/plivo-go/v7"
)

func main() {
	client, err := plivo.NewClient("", "", &plivo.ClientOptions{}) // PLIVO_AUTH_ID / PLIVO_AUTH_TOKEN
	if err != nil {
		log.Fatal(err)
	}
	list, err := client.Conferences.IDList()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(list.Conferences)
	kick, err := client.Conferences.MemberKick("MyConference", "1")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(kick.Message)
}
