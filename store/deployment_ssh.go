package store

import (
	"context"
	"database/sql"
	"fmt"
)

// SSHAccess is the key pair the service generated for one deployment and the
// host keys its configuration runs have recorded. The private key is sealed at
// rest and read only by the engine; the API never returns it.
type SSHAccess struct {
	DeploymentID string
	PrivateKey   []byte
	PublicKey    string
	KnownHosts   []byte
}

// DeploymentSSH stores deployments' SSH access.
type DeploymentSSH struct{ s *Store }

// Ensure returns the deployment's access, creating it with generate on first
// use (one key pair per deployment for its whole life).
func (r *DeploymentSSH) Ensure(ctx context.Context, deploymentID string, generate func() (private []byte, public string, err error)) (*SSHAccess, error) {
	if a, err := r.Get(ctx, deploymentID); err == nil || !IsNotFound(err) {
		return a, err
	}
	priv, pub, err := generate()
	if err != nil {
		return nil, err
	}
	sealed, err := r.s.seal(map[string]string{"private_key": string(priv)})
	if err != nil {
		return nil, fmt.Errorf("seal the deployment's ssh key: %w", err)
	}
	now := fmtTime(r.s.Now())
	_, err = r.s.db.ExecContext(ctx, `INSERT INTO deployment_ssh (deployment_id, private_key, public_key, known_hosts, created_at, updated_at)
		VALUES (?, ?, ?, '', ?, ?) ON CONFLICT (deployment_id) DO NOTHING`, deploymentID, sealed, pub, now, now)
	if err != nil {
		return nil, fmt.Errorf("store the deployment's ssh key: %w", err)
	}
	return r.Get(ctx, deploymentID) // whoever inserted first wins
}

// Get returns a deployment's access, unsealed.
func (r *DeploymentSSH) Get(ctx context.Context, deploymentID string) (*SSHAccess, error) {
	var sealed []byte
	var known string
	a := &SSHAccess{DeploymentID: deploymentID}
	err := r.s.db.QueryRowContext(ctx, "SELECT private_key, public_key, known_hosts FROM deployment_ssh WHERE deployment_id = ?", deploymentID).
		Scan(&sealed, &a.PublicKey, &known)
	if err == sql.ErrNoRows {
		return nil, Errorf(ENotFound, "no ssh access for deployment %q", deploymentID)
	}
	if err != nil {
		return nil, fmt.Errorf("read ssh access of %s: %w", deploymentID, err)
	}
	plain, err := r.s.unseal(sealed)
	if err != nil {
		return nil, err
	}
	a.PrivateKey, a.KnownHosts = []byte(plain["private_key"]), []byte(known)
	return a, nil
}

// PublicKey returns the deployment's public key, "" when it has none yet.
func (r *DeploymentSSH) PublicKey(ctx context.Context, deploymentID string) (string, error) {
	var pub string
	err := r.s.db.QueryRowContext(ctx, "SELECT public_key FROM deployment_ssh WHERE deployment_id = ?", deploymentID).Scan(&pub)
	if err == sql.ErrNoRows {
		return "", nil
	}
	return pub, err
}

// SetKnownHosts records the host keys seen so far (first contact recorded, later
// contacts checked against them).
func (r *DeploymentSSH) SetKnownHosts(ctx context.Context, deploymentID string, known []byte) error {
	res, err := r.s.db.ExecContext(ctx, "UPDATE deployment_ssh SET known_hosts = ?, updated_at = ? WHERE deployment_id = ?",
		string(known), fmtTime(r.s.Now()), deploymentID)
	if err != nil {
		return fmt.Errorf("record host keys of %s: %w", deploymentID, err)
	}
	return mustAffect(res, "ssh access of deployment", deploymentID)
}
