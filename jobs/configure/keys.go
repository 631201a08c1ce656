package configure

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"strings"

	"golang.org/x/crypto/ssh"
)

// KeyPair is an SSH key pair the service generates for one deployment: the
// public half goes onto every server beside the owners' keys, the private half
// is sealed in the store and only ever written to a 0600 file for ssh to read.
type KeyPair struct {
	Private []byte // OpenSSH PEM; never logged, never returned by the API
	Public  string // authorized_keys line
}

// NewKeyPair generates an ed25519 key pair; comment ends the public line.
func NewKeyPair(comment string) (*KeyPair, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate ssh key: %w", err)
	}
	block, err := ssh.MarshalPrivateKey(priv, comment)
	if err != nil {
		return nil, fmt.Errorf("encode ssh key: %w", err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("encode ssh public key: %w", err)
	}
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshPub)))
	if comment != "" {
		line += " " + comment
	}
	return &KeyPair{Private: pem.EncodeToMemory(block), Public: line}, nil
}

// CheckPrivateKey says whether pem is an unencrypted OpenSSH/PEM private key ssh
// can use without a passphrase (an admin registering a pool host sends one).
func CheckPrivateKey(pemBytes []byte) error {
	if _, err := ssh.ParseRawPrivateKey(pemBytes); err != nil {
		if _, ok := err.(*ssh.PassphraseMissingError); ok {
			return fmt.Errorf("the private key is protected by a passphrase; register an unencrypted key")
		}
		return fmt.Errorf("not an SSH private key (PEM or OpenSSH format)")
	}
	return nil
}
